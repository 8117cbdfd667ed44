package main

import (
	"context"
	"fmt"
	"io"

	"github.com/meshinsight/kubectl-meshinsight/pkg/agent"
)

// inClusterConfig turns cfg into a measurement of the injected benchmark
// pods of --target (see agent.InCluster).
func (h *handoffOptions) inClusterConfig(ctx context.Context, cfg *agent.Config, log io.Writer) error {
	if h.targetNamespace == "" || h.target == "" {
		return fmt.Errorf("--in-cluster needs --target-namespace and --target")
	}
	kc, err := h.client()
	if err != nil {
		return err
	}
	ic := &agent.InCluster{Kube: kc, Namespace: h.targetNamespace, Target: h.target, Log: log}
	return ic.Configure(ctx, cfg)
}
