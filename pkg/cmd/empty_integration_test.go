//go:build integration

package cmd

import (
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/internal/testenv"
)

// TestPredictEmptyNamespace checks that a namespace without workloads says
// what kubectl says and is not an error.
func TestPredictEmptyNamespace(t *testing.T) {
	kubeconfig := testenv.Kubeconfig(t)
	ns := testenv.NewNamespace(t, testenv.Client(t))
	out, errOut, err := execute(t, "predict", "--kubeconfig", kubeconfig, "-n", ns, "--source", "config")
	if err != nil {
		t.Fatalf("predict on an empty namespace: %v\n%s", err, errOut)
	}
	if want := "No resources found in " + ns + " namespace.\n"; !strings.Contains(errOut, want) || out != "" {
		t.Errorf("stdout %q, stderr %q; want nothing on stdout and %q on stderr", out, errOut, want)
	}
}

// TestCompleteNamespacesLive checks that -n completes from the real
// apiserver's namespaces.
func TestCompleteNamespacesLive(t *testing.T) {
	kubeconfig := testenv.Kubeconfig(t)
	ns := testenv.NewNamespace(t, testenv.Client(t))
	out, _, err := execute(t, "__complete", "predict", "--kubeconfig", kubeconfig, "-n", ns[:len(ns)-2])
	if err != nil || !strings.Contains(out, ns+"\n") || strings.Contains(out, "kube-system") {
		t.Errorf("-n %s… completion: %v\n%s", ns[:len(ns)-2], err, out)
	}
}
