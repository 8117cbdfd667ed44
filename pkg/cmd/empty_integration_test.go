//go:build integration

package cmd

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	// --node offers the cluster's nodes; --what-if workload= the
	// namespace's Deployments and the Services their names stand for.
	out, _, err = execute(t, "__complete", "profile", "--kubeconfig", kubeconfig, "--node", "")
	if err != nil || !strings.Contains(out, testenv.FakeNodeName+"\n") {
		t.Errorf("--node completion: %v\n%s", err, out)
	}
	cs := testenv.Client(t)
	one := int32(1)
	labels := map[string]string{"app": "cart"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "cart-v2", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.invalid/cart"}}}}}}
	if _, err := cs.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out, _, err = execute(t, "__complete", "predict", "--kubeconfig", kubeconfig, "-n", ns, "--what-if", "mtls=off,workload=ca")
	if err != nil || !strings.Contains(out, "mtls=off,workload=cart\n") || !strings.Contains(out, "mtls=off,workload=cart-v2\n") {
		t.Errorf("--what-if workload= completion: %v\n%s", err, out)
	}
}
