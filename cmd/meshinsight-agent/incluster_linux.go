package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/agent"
)

// inClusterConfig turns cfg into a measurement of the injected benchmark
// pods of --target (see agent.InCluster).
func (h *handoffOptions) inClusterConfig(ctx context.Context, cfg *agent.Config, log io.Writer) error {
	if h.targetNamespace == "" || h.target == "" || h.loadTokenFile == "" {
		return fmt.Errorf("--in-cluster needs --target-namespace, --target and --load-token-file")
	}
	token, err := os.ReadFile(h.loadTokenFile)
	if err != nil {
		return fmt.Errorf("reading the load token: %w", err)
	}
	kc, err := h.client()
	if err != nil {
		return err
	}
	ic := &agent.InCluster{Kube: kc, Namespace: h.targetNamespace, Target: h.target,
		LoadToken: strings.TrimSpace(string(token)), Log: log}
	return ic.Configure(ctx, cfg)
}
