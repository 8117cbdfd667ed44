//go:build integration

package testenv_test

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/meshinsight/kubectl-meshinsight/internal/testenv"
)

var (
	crdGVR = schema.GroupVersionResource{
		Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions",
	}
	peerAuthGVR = schema.GroupVersionResource{
		Group: "security.istio.io", Version: "v1", Resource: "peerauthentications",
	}
	gatewayGVR = schema.GroupVersionResource{
		Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways",
	}
)

func TestServerVersion(t *testing.T) {
	info, err := testenv.Client(t).Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("getting server version: %v", err)
	}
	if info.GitVersion != testenv.KubernetesVersion {
		t.Errorf("server version = %q, want %q", info.GitVersion, testenv.KubernetesVersion)
	}
}

func TestDeploymentGetsRunningPodsOnFakeNode(t *testing.T) {
	client := testenv.Client(t)
	ns := testenv.NewNamespace(t, client)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	labels := map[string]string{"app": "web"}
	replicas := int32(2)
	_, err := client.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					// kwok runs no containers: the image is never pulled.
					Containers: []corev1.Container{{Name: "web", Image: "registry.k8s.io/pause:3.10"}},
				},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating deployment: %v", err)
	}

	started := time.Now()
	pods, err := testenv.WaitForPodsRunning(ctx, client, ns, "app=web", 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("2 pods running after %v", time.Since(started).Round(time.Millisecond))
	if len(pods) != 2 {
		t.Errorf("got %d running pods, want 2", len(pods))
	}
	for _, pod := range pods {
		if pod.Spec.NodeName != testenv.FakeNodeName {
			t.Errorf("pod %s runs on node %q, want %q", pod.Name, pod.Spec.NodeName, testenv.FakeNodeName)
		}
		if pod.Status.PodIP == "" {
			t.Errorf("pod %s has no IP", pod.Name)
		}
	}
}

func TestIstioCRDsEstablished(t *testing.T) {
	client := testenv.DynamicClient(t)
	ctx := t.Context()
	istio := crds(t, client, ".istio.io")
	for name, ok := range istio {
		if !ok {
			t.Errorf("CRD %s is not Established", name)
		}
	}
	// istio.io/api v1.32.0 ships 15 CRDs.
	if len(istio) < 15 {
		t.Errorf("found %d Istio CRDs, want at least 15: %v", len(istio), istio)
	}

	if _, err := client.Resource(peerAuthGVR).Namespace(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("listing PeerAuthentications: %v", err)
	}
}

// TestGatewayAPICRDsEstablished: waypoints are Gateways, so the Gateway API's
// standard CRDs (from the sigs.k8s.io/gateway-api module) are installed.
func TestGatewayAPICRDsEstablished(t *testing.T) {
	client := testenv.DynamicClient(t)
	ctx := t.Context()
	found := crds(t, client, ".gateway.networking.k8s.io")
	for _, name := range []string{"gateways.gateway.networking.k8s.io", "gatewayclasses.gateway.networking.k8s.io", "httproutes.gateway.networking.k8s.io"} {
		if !found[name] {
			t.Errorf("CRD %s missing or not Established (found %v): hack/testenv/up.sh installs them", name, found)
		}
	}
	if _, err := client.Resource(gatewayGVR).Namespace(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("listing Gateways: %v", err)
	}
}

// crds maps the CRDs whose name ends in suffix to whether each is Established.
func crds(t *testing.T, client dynamic.Interface, suffix string) map[string]bool {
	t.Helper()
	list, err := client.Resource(crdGVR).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("listing CRDs: %v", err)
	}
	out := map[string]bool{}
	for _, crd := range list.Items {
		if strings.HasSuffix(crd.GetName(), suffix) {
			out[crd.GetName()] = established(crd)
		}
	}
	return out
}

func established(crd unstructured.Unstructured) bool {
	conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conditions {
		cond, ok := c.(map[string]any)
		if ok && cond["type"] == "Established" && cond["status"] == "True" {
			return true
		}
	}
	return false
}

func TestPeerAuthenticationSchemaValidation(t *testing.T) {
	ns := testenv.NewNamespace(t, testenv.Client(t))
	peerAuths := testenv.DynamicClient(t).Resource(peerAuthGVR).Namespace(ns)

	tests := []struct {
		name    string
		mode    string
		invalid bool
	}{
		{name: "strict", mode: "STRICT"},
		{name: "permissive", mode: "PERMISSIVE"},
		{name: "bogus", mode: "SOMETIMES", invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pa := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "security.istio.io/v1",
				"kind":       "PeerAuthentication",
				"metadata":   map[string]any{"name": tt.name},
				"spec":       map[string]any{"mtls": map[string]any{"mode": tt.mode}},
			}}
			_, err := peerAuths.Create(t.Context(), pa, metav1.CreateOptions{})
			switch {
			case tt.invalid && err == nil:
				t.Fatalf("PeerAuthentication with mtls.mode %q was accepted, want a validation error", tt.mode)
			case tt.invalid && !apierrors.IsInvalid(err):
				t.Fatalf("PeerAuthentication with mtls.mode %q: got %v, want an Invalid error", tt.mode, err)
			case tt.invalid && !strings.Contains(err.Error(), "spec.mtls.mode"):
				t.Errorf("validation error %q does not name spec.mtls.mode", err)
			case !tt.invalid && err != nil:
				t.Fatalf("creating PeerAuthentication with mtls.mode %q: %v", tt.mode, err)
			case tt.invalid:
				t.Logf("rejected as expected: %v", err)
			}
		})
	}
}
