package profilerun

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ServerDryRun sends the plan's objects through the API server's admission
// (RBAC, quotas, Pod Security, webhooks such as Istio's injector) without
// keeping them, and returns how many were admitted. Namespaced objects can
// only be admitted inside a namespace that exists, so the run's namespace is
// created for real, with a heartbeat like a run's, and deleted before
// ServerDryRun returns, whatever happened.
func ServerDryRun(ctx context.Context, c Clients, p *Plan, cleanupTimeout time.Duration) (admitted int, err error) {
	objs, err := p.Objects()
	if err != nil {
		return 0, err
	}
	nsObj, err := createRunNamespace(ctx, c, objs[0])
	if err != nil {
		return 0, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		err = errors.Join(err, DeleteNamespace(cctx, c.Kube, nsObj.Name, 200*time.Millisecond))
	}()
	if err := Apply(ctx, c, objs[1:], true); err != nil {
		return 0, fmt.Errorf("server-side dry run: %w", err)
	}
	return len(objs), nil
}

// ClientPlan is the plan of a run rendered without a cluster (--dry-run=client):
// Istio assumed in istioNamespace (istio-system when empty) at the default
// revision in sidecar mode, and the node named node, or a placeholder. Notes
// say what was assumed.
func ClientPlan(cfg Config) (*Plan, error) {
	istioNS := cfg.IstioNamespace
	if istioNS == "" {
		istioNS = "istio-system"
	}
	node := cfg.Node
	notes := []string{fmt.Sprintf("client dry run: no cluster read; Istio assumed in %s, default revision, sidecar mode; --dry-run=server checks the objects against the cluster", istioNS)}
	if node == "" {
		node = "NODE"
		notes = append(notes, "no --node: the manifests name the node NODE; a run picks the first Ready, schedulable Linux node")
	}
	istio := &Istio{Namespace: istioNS, Revision: "default", Version: "unknown", ProxyImage: "unknown"}
	nodes := []Node{{Name: node, NodeType: "unknown"}}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	id, token, err := runIDs()
	if err != nil {
		return nil, err
	}
	p := newPlan(cfg, istio, nodes, id, token)
	p.Notes = notes
	return p, nil
}
