package profilestore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestListShowRemoveLocal(t *testing.T) {
	dir := t.TempDir()
	if got, err := ListLocal(filepath.Join(dir, "missing")); err != nil || len(got) != 0 {
		t.Fatalf("missing store: %v, %v", got, err)
	}
	if _, err := SaveLocal(dir, "prod", NewSet("", measured(t, "m5.large"), measured(t, "c6g/xl"))); err != nil {
		t.Fatal(err)
	}
	got, err := ListLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range got {
		names = append(names, e.Name+"|"+e.NodeType+"|"+e.Source)
	}
	want := []string{"prod|m5.large|file", "prod@c6g_xl|c6g/xl|file", "prod@m5.large|m5.large|file"}
	if len(names) != len(want) {
		t.Fatalf("listed %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("entry %d = %s, want %s", i, names[i], want[i])
		}
	}
	e, err := ShowLocal(dir, "prod@c6g_xl")
	if err != nil || e.Profile.Metadata.Name != "measured-c6g/xl" {
		t.Errorf("show: %+v, %v", e, err)
	}
	for _, bad := range []string{"nope", "../prod", ""} {
		if _, err := ShowLocal(dir, bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("show %q: %v, want ErrNotFound", bad, err)
		}
		if _, err := RemoveLocal(dir, bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("rm %q: %v, want ErrNotFound", bad, err)
		}
	}
	path, err := RemoveLocal(dir, "prod")
	if err != nil || path != filepath.Join(dir, "prod.json") {
		t.Fatalf("rm: %q, %v", path, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there: %v", path, err)
	}
}

func TestListRemoveCluster(t *testing.T) {
	ctx := context.Background()
	kc := fake.NewClientset()
	if got, err := ListCluster(ctx, kc, "istio-system"); err != nil || got != nil {
		t.Fatalf("no ConfigMap: %v, %v", got, err)
	}
	if _, err := RemoveCluster(ctx, kc, "istio-system", "default"); !errors.Is(err, ErrNotFound) {
		t.Errorf("rm without ConfigMap: %v", err)
	}
	if err := SaveCluster(ctx, kc, "istio-system", NewSet("", measured(t, "m5.large"), measured(t, "c6g"))); err != nil {
		t.Fatal(err)
	}
	got, err := ListCluster(ctx, kc, "istio-system")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Name != "default" || got[1].Name != "nodetype-c6g" || got[0].Source != SourceCluster ||
		got[0].Location != "istio-system/meshinsight-profile:default.json" {
		t.Fatalf("listed %+v", got)
	}
	if e, err := ShowCluster(ctx, kc, "istio-system", "nodetype-c6g"); err != nil || e.NodeType != "c6g" {
		t.Errorf("show: %+v, %v", e, err)
	}
	if _, err := ShowCluster(ctx, kc, "istio-system", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("show nope: %v", err)
	}
	if _, err := RemoveCluster(ctx, kc, "istio-system", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("rm nope: %v", err)
	}
	deleted, err := RemoveCluster(ctx, kc, "istio-system", "nodetype-c6g")
	if err != nil || deleted {
		t.Fatalf("rm nodetype-c6g: deleted %v, %v", deleted, err)
	}
	cm, err := kc.CoreV1().ConfigMaps("istio-system").Get(ctx, ConfigMapName, metav1.GetOptions{})
	if err != nil || len(cm.Data) != 2 || cm.Data["nodetype-c6g.json"] != "" {
		t.Fatalf("after rm: %v, %v", cm.Data, err)
	}
	if deleted, err := RemoveCluster(ctx, kc, "istio-system", "default"); err != nil || !deleted {
		t.Fatalf("rm default: deleted %v, %v", deleted, err)
	}
	if got, err := ListCluster(ctx, kc, "istio-system"); err != nil || got != nil {
		t.Errorf("after rm default: %v, %v", got, err)
	}
}
