package cmd

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
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

func TestWhatIfCompletion(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  []string // each must be offered
		not   []string // none of these may be
	}{
		{"", []string{"mtls=", "mode=", "edge=", "workload="}, nil},
		{"mt", []string{"mtls="}, []string{"mode="}},
		{"mtls=", []string{"mtls=on", "mtls=off"}, nil},
		{"mode=a", []string{"mode=ambient"}, []string{"mode=sidecar"}},
		{"mode=ambient,", []string{"mode=ambient,workload=", "mode=ambient,namespace="}, nil},
		{"mode=ambient,workload=rev", []string{"mode=ambient,workload=reviews", "mode=ambient,workload=reviews-v2"}, []string{"mode=ambient,workload=ratings-v1"}},
		{"protocol=grpc,edge=productpage-v1->r", []string{"protocol=grpc,edge=productpage-v1->reviews-v1"}, []string{"protocol=grpc,edge=productpage-v1->details-v1"}},
	} {
		out, _, err := execute(t, "__complete", "predict", "-f", "example:bookinfo", "--what-if", tc.value)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(out, "\n")
		for _, w := range tc.want {
			if !slices.Contains(lines, w) {
				t.Errorf("--what-if %q: %q not offered:\n%s", tc.value, w, out)
			}
		}
		for _, w := range tc.not {
			if slices.Contains(lines, w) {
				t.Errorf("--what-if %q: %q offered:\n%s", tc.value, w, out)
			}
		}
	}
}

func TestStoredProfileCompletion(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	store := filepath.Join(dir, "meshinsight", "profiles")
	if err := os.MkdirAll(store, 0o755); err != nil {
		t.Fatal(err)
	}
	ref, err := profile.Reference()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"kind-kind.json", "prod.json"} {
		if err := profile.WriteFile(filepath.Join(store, n), ref); err != nil {
			t.Fatal(err)
		}
	}
	out, _, err := execute(t, "__complete", "profile", "show", "ki")
	if err != nil || !strings.Contains(out, "kind-kind\n") || strings.Contains(out, "prod\n") {
		t.Errorf("profile show completion: %v\n%s", err, out)
	}
}
