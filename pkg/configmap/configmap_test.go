package configmap

import (
	"context"
	"errors"
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestUpsert(t *testing.T) {
	ctx := context.Background()
	kc := fake.NewSimpleClientset()
	get := func() *corev1.ConfigMap {
		t.Helper()
		cm, err := kc.CoreV1().ConfigMaps("ns").Get(ctx, "cm", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cm
	}
	if err := Upsert(ctx, kc, "ns", "cm", map[string]string{"a": "1", "b": "2"}); err != nil {
		t.Fatal(err)
	}
	if cm := get(); cm.Labels[ManagedByLabel] != ManagedBy || !maps.Equal(cm.Data, map[string]string{"a": "1", "b": "2"}) {
		t.Errorf("created %+v", cm)
	}
	// An update replaces the data and keeps what others added.
	cm := get()
	cm.Annotations = map[string]string{"note": "kept"}
	if _, err := kc.CoreV1().ConfigMaps("ns").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Upsert(ctx, kc, "ns", "cm", map[string]string{"b": "3"}); err != nil {
		t.Fatal(err)
	}
	if cm := get(); cm.Annotations["note"] != "kept" || !maps.Equal(cm.Data, map[string]string{"b": "3"}) {
		t.Errorf("updated %+v", cm)
	}
}

func TestUpsertRaces(t *testing.T) {
	// Another writer creates the ConfigMap between the Get and the Create.
	ctx := context.Background()
	existing := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "ns"}, Data: map[string]string{"old": "x"}}
	kc := fake.NewSimpleClientset()
	gets := 0
	kc.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		gets++
		if gets == 1 {
			return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, "cm")
		}
		return true, existing.DeepCopy(), nil
	})
	kc.PrependReactor("create", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewAlreadyExists(schema.GroupResource{Resource: "configmaps"}, "cm")
	})
	var updated *corev1.ConfigMap
	kc.PrependReactor("update", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		updated = a.(k8stesting.UpdateAction).GetObject().(*corev1.ConfigMap)
		return true, updated, nil
	})
	if err := Upsert(ctx, kc, "ns", "cm", map[string]string{"new": "y"}); err != nil {
		t.Fatal(err)
	}
	if updated == nil || !maps.Equal(updated.Data, map[string]string{"new": "y"}) || gets != 2 {
		t.Errorf("after the race: updated %+v, %d gets", updated, gets)
	}

	// Any other error is returned as the API server gave it.
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "cm", errors.New("no"))
	kc = fake.NewSimpleClientset()
	kc.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, forbidden })
	if err := Upsert(ctx, kc, "ns", "cm", nil); !apierrors.IsForbidden(err) {
		t.Errorf("forbidden get: %v", err)
	}
}
