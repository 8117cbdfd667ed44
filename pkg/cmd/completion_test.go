package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompletion(t *testing.T) {
	// -f offers the embedded examples.
	out, _, err := execute(t, "__complete", "predict", "-f", "example:")
	if err != nil || !strings.Contains(out, "example:bookinfo") || !strings.Contains(out, "example:ambient-shop") {
		t.Errorf("-f completion: %v\n%s", err, out)
	}
	// --context offers the kubeconfig's contexts.
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {}}]
contexts:
- {name: prod-eu, context: {cluster: c, user: u}}
- {name: staging, context: {cluster: c, user: u}}
current-context: staging
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err = execute(t, "__complete", "predict", "--kubeconfig", cfg, "--context", "")
	if err != nil || !strings.Contains(out, "prod-eu\nstaging\n") {
		t.Errorf("--context completion: %v\n%s", err, out)
	}
	// -n on an unreachable cluster offers nothing, quickly, without error.
	out, _, err = execute(t, "__complete", "predict", "--kubeconfig", cfg, "--request-timeout", "1s", "-n", "")
	if err != nil || strings.Contains(out, "default") {
		t.Errorf("-n completion without a cluster: %v\n%s", err, out)
	}
}
