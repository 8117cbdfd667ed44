package cmd

import (
	"bytes"
	"context"
	"strings"
	"testing"

	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/meshinsight/kubectl-meshinsight/internal/promtest"
	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/kube"
)

// graphClients is a fake cluster: namespace shop with web and api (sidecars
// from the namespace's injection label) and the api Service.
func graphClients() *kube.Clients {
	deploy := func(name string) *appsv1.Deployment {
		one := int32(1)
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
			Spec: appsv1.DeploymentSpec{Replicas: &one, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}}}}
	}
	kc := fake.NewSimpleClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"istio-injection": "enabled"}}},
		deploy("web"), deploy("api"),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "api"}, Ports: []corev1.ServicePort{{Name: "grpc", Port: 8080}}}})
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{kube.GatewayResource: "GatewayList"})
	return &kube.Clients{Config: &rest.Config{}, Kube: kc, Dynamic: dyn, Istio: istiofake.NewSimpleClientset(), Context: "lab", Namespace: "shop"}
}

// runGraph runs the graph command o (its output flags set) on the fake
// cluster, web calling api at 40 req/s in Prometheus, and returns its
// stdout and stderr.
func runGraph(t *testing.T, o *GraphOptions) (out, errOut *bytes.Buffer) {
	t.Helper()
	o.getter, o.live = genericclioptions.NewConfigFlags(true), newLiveOptions()
	o.IOStreams, _, out, errOut = genericiooptions.NewTestIOStreams()
	o.live.PrometheusURL = promtest.Serve(t, promtest.Requests{Namespace: "shop", From: "web", To: "api", Service: "api", Protocol: "grpc", Rate: 40})
	if err := o.live.complete(); err != nil {
		t.Fatal(err)
	}
	o.clients = graphClients()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return out, errOut
}

// The graph command writes the live cluster's call graph in the file
// format, and its messages on stderr.
func TestGraphCommand(t *testing.T) {
	for _, format := range []string{"yaml", "json"} {
		t.Run(format, func(t *testing.T) {
			out, errOut := runGraph(t, &GraphOptions{Output: format})
			g, err := callgraph.Parse("graph."+format, out.Bytes())
			if err != nil {
				t.Fatalf("output does not parse as a call graph: %v\n%s", err, out)
			}
			if len(g.Workloads) != 2 || len(g.Edges) != 1 || g.Edges[0].Name() != "shop/web->shop/api" || g.Edges[0].Protocol != "grpc" ||
				*g.Edges[0].RequestsPerSecond != 40 || g.Metadata.Name != "shop" {
				t.Errorf("graph %+v", g)
			}
			if !strings.Contains(errOut.String(), "[MI0016]") { // no sizes observed
				t.Errorf("messages not on stderr: %q", errOut)
			}
		})
	}
}

func TestGraphErrors(t *testing.T) {
	if _, _, err := execute(t, "graph", "-o", "table", "--kubeconfig", kubeconfig(t)); err == nil || !strings.Contains(err.Error(), `--output "table": want yaml or json`) {
		t.Errorf("bad output: %v", err)
	}
	if _, _, err := execute(t, "graph", "--kubeconfig", "/nonexistent/config"); err == nil || !strings.Contains(err.Error(), "loading kubeconfig") {
		t.Errorf("no kubeconfig: %v", err)
	}
	if _, _, err := execute(t, "graph", "--kubeconfig", kubeconfig(t), "--window", "0s"); err == nil || !strings.Contains(err.Error(), "must be positive") {
		t.Errorf("zero window: %v", err)
	}
}

// graph --sidecar-resources writes one Sidecar per sidecar workload that
// imports the Services it was observed calling, and warns of the rest.
func TestGraphSidecarResources(t *testing.T) {
	o := &GraphOptions{Output: "yaml", SidecarResources: true}
	out, errOut := runGraph(t, o)
	for _, want := range []string{
		"# Warning: these Sidecars import only the Services observed in the window",
		"# shop/web was observed calling 1 Service(s)\napiVersion: networking.istio.io/v1\nkind: Sidecar\n",
		"  name: web-observed\n  namespace: shop\nspec:\n  egress:\n  - hosts:\n    - shop/api.shop.svc.cluster.local\n  workloadSelector:\n    labels:\n      app: web\n",
		"  name: api-observed\n  namespace: shop\nspec:\n  egress:\n  - hosts:\n    - ~/*\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut.String(), "[MI0036]") {
		t.Errorf("no passthrough warning on stderr: %q", errOut)
	}
	o.Output = "json"
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--sidecar-resources writes YAML") {
		t.Errorf("json with --sidecar-resources: %v", err)
	}
}
