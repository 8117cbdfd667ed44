// Package configmap keeps a small document in a ConfigMap: the agent's
// hand-off to the CLI (pkg/handoff) and the cluster-wide profile store
// (pkg/profilestore) write theirs through one Upsert. It needs only
// client-go, so the in-cluster agent can use it.
package configmap

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ManagedByLabel and ManagedBy label the objects kubectl-meshinsight creates.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedBy      = "kubectl-meshinsight"
)

// Upsert makes ConfigMap ns/name hold exactly data: it creates the
// ConfigMap (labelled ManagedByLabel=ManagedBy) or replaces the data of the
// existing one, keeping its other fields. It needs get, create and update
// on configmaps in ns. Errors are the API server's, for the caller to say
// which ConfigMap it was writing and why.
func Upsert(ctx context.Context, kc kubernetes.Interface, ns, name string, data map[string]string) error {
	cms := kc.CoreV1().ConfigMaps(ns)
	cm, err := cms.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cms.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{ManagedByLabel: ManagedBy}},
			Data:       data,
		}, metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
		// Created by someone else since the Get: update theirs.
		cm, err = cms.Get(ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		return err
	}
	cm.Data = data
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	return err
}
