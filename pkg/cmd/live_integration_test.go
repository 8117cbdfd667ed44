//go:build integration

package cmd

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	secapi "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/internal/testenv"
	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
)

// The namespace and workloads match hack/prometheus/gen's Bookinfo series.
const liveNS = "bookinfo"

func envOrFail(t *testing.T, name, how string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: %s", name, how)
	}
	return v
}

func createBookinfo(t *testing.T, cs kubernetes.Interface, ic istioclient.Interface) {
	t.Helper()
	ctx := context.Background()
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: liveNS,
		Labels: map[string]string{"istio-injection": "enabled", testenv.NamespaceLabel: "true"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace %s (left over from an earlier run? delete it): %v", liveNS, err)
	}
	t.Cleanup(func() { cs.CoreV1().Namespaces().Delete(context.Background(), liveNS, metav1.DeleteOptions{}) })
	deploy := func(name, app, version string, replicas int32) {
		labels := map[string]string{"app": app, "version": version}
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: liveNS},
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{NodeName: testenv.FakeNodeName, Containers: []corev1.Container{
						{Name: app, Image: "example.invalid/" + app},
						{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.28.0"}, // as injected
					}}}}}
		if _, err := cs.AppsV1().Deployments(liveNS).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	deploy("productpage-v1", "productpage", "v1", 2)
	deploy("reviews-v1", "reviews", "v1", 1)
	deploy("reviews-v2", "reviews", "v2", 1)
	deploy("details-v1", "details", "v1", 1)
	deploy("ratings-v1", "ratings", "v1", 1)
	grpc := "grpc"
	for _, s := range []struct {
		name string
		port corev1.ServicePort
	}{
		{"productpage", corev1.ServicePort{Name: "http", Port: 9080}},
		{"reviews", corev1.ServicePort{Name: "http", Port: 9080}},
		{"details", corev1.ServicePort{Name: "http", Port: 9080}},
		{"ratings", corev1.ServicePort{Name: "rpc", Port: 9080, AppProtocol: &grpc}},
	} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: liveNS},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": s.name}, Ports: []corev1.ServicePort{s.port}}}
		if _, err := cs.CoreV1().Services(liveNS).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pa := &securityv1.PeerAuthentication{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: liveNS}}
	pa.Spec.Mtls = &secapi.PeerAuthentication_MutualTLS{Mode: secapi.PeerAuthentication_MutualTLS_STRICT}
	if _, err := ic.SecurityV1().PeerAuthentications(liveNS).Create(ctx, pa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := testenv.WaitForPodsRunning(ctx2, cs, liveNS, "", 6); err != nil {
		t.Fatal(err)
	}
}

// TestPredictLiveNamespace runs `kubectl meshinsight predict -n bookinfo` against
// the real control plane and a real Prometheus holding Istio series, and checks
// every edge's protocol, mTLS, rate and sizes; then checks that `graph` output
// round-trips through predict -f.
func TestPredictLiveNamespace(t *testing.T) {
	kubeconfig := testenv.Kubeconfig(t)
	promURL := envOrFail(t, "MESHINSIGHT_PROMETHEUS_URL", "start it with `eval \"$(hack/prometheus/run.sh)\"`")
	at := envOrFail(t, "MESHINSIGHT_PROMETHEUS_AT", "start it with `eval \"$(hack/prometheus/run.sh)\"`")
	cfg := testenv.Config(t)
	ic, err := istioclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	createBookinfo(t, testenv.Client(t), ic)

	live := []string{"--kubeconfig", kubeconfig, "-n", liveNS, "--prometheus-url", promURL, "--at", at}
	out, errOut, err := execute(t, append([]string{"predict", "-o", "json"}, live...)...)
	if err != nil {
		t.Fatalf("predict: %v\n%s", err, errOut)
	}
	var r predict.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	type want struct {
		proto     dataplane.Protocol
		mtls      bool
		rps       float64
		req, resp float64
	}
	wants := map[string]want{
		"bookinfo/productpage-v1->bookinfo/reviews-v1": {"http", true, 10, 300, 980},
		"bookinfo/productpage-v1->bookinfo/details-v1": {"http", true, 10, 250, 420},
		"bookinfo/reviews-v2->bookinfo/ratings-v1":     {"grpc", true, 5, 80, 300},
	}
	got := map[string]predict.EdgeResult{}
	for _, e := range r.Baseline.Edges {
		got[e.Name()] = e
	}
	for name, w := range wants {
		e, ok := got[name]
		if !ok {
			t.Errorf("edge %s missing; edges: %v", name, keys(got))
			continue
		}
		if e.Protocol != w.proto || e.MTLS != w.mtls || !near(e.RequestsPerSecond, w.rps) || !near(e.RequestBytes, w.req) || !near(e.ResponseBytes, w.resp) {
			t.Errorf("%s = %s mtls=%v %.3g rps %.4g/%.4g B, want %+v", name, e.Protocol, e.MTLS, e.RequestsPerSecond, e.RequestBytes, e.ResponseBytes, w)
		}
		if !(e.LatencyP50Micros > 0) || !(e.CPUMillicores > 0) {
			t.Errorf("%s has no predicted overhead: %+v", name, e)
		}
	}

	// -l keeps the matching workloads and the calls between them, and says
	// which calls it cut; a selector matching nothing is an error.
	out, errOut, err = execute(t, append([]string{"predict", "-o", "json", "-l", "app in (reviews,ratings)"}, live...)...)
	if err != nil {
		t.Fatalf("predict -l: %v\n%s", err, errOut)
	}
	var sel predict.Report
	if err := json.Unmarshal([]byte(out), &sel); err != nil {
		t.Fatal(err)
	}
	if len(sel.Baseline.Edges) == 0 || len(sel.Baseline.Edges) >= len(r.Baseline.Edges) {
		t.Errorf("-l kept %d of %d edges", len(sel.Baseline.Edges), len(r.Baseline.Edges))
	}
	for _, e := range sel.Baseline.Edges {
		for _, end := range []string{e.From, e.To} {
			if !strings.Contains(end, "/reviews-") && !strings.Contains(end, "/ratings-") {
				t.Errorf("-l kept edge %s", e.Name())
			}
		}
	}
	cut := false
	for _, m := range sel.Messages {
		cut = cut || (m.Code == diag.SelectionCut && strings.Contains(m.Message, "productpage-v1->"))
	}
	if !cut {
		t.Errorf("-l: no %s naming the cut productpage calls: %+v", diag.SelectionCut, sel.Messages)
	}
	if _, errOut, err := execute(t, append([]string{"predict", "-l", "app=nope"}, live...)...); err == nil || !strings.Contains(err.Error()+errOut, "no workload's pods match") {
		t.Errorf("-l matching nothing: err %v, stderr %q", err, errOut)
	}

	// graph writes the same call graph; predict -f on it gives the same edges.
	yamlOut, errOut, err := execute(t, append([]string{"graph", "-o", "yaml"}, live...)...)
	if err != nil {
		t.Fatalf("graph: %v\n%s", err, errOut)
	}
	g, err := callgraph.Parse("graph.yaml", []byte(yamlOut))
	if err != nil {
		t.Fatalf("graph output does not parse: %v\n%s", err, yamlOut)
	}
	path := writeFile(t, t.TempDir(), "graph.yaml", yamlOut)
	out2, _, err := execute(t, "predict", "-f", path, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r2 predict.Report
	if err := json.Unmarshal([]byte(out2), &r2); err != nil {
		t.Fatal(err)
	}
	if len(r2.Baseline.Edges) != len(r.Baseline.Edges) || len(g.Edges) != len(r.Baseline.Edges) {
		t.Fatalf("round trip: %d edges from the file, %d live", len(r2.Baseline.Edges), len(r.Baseline.Edges))
	}
	for i := range r.Baseline.Edges {
		a, b := r.Baseline.Edges[i], r2.Baseline.Edges[i]
		if a.Name() != b.Name() || !near(a.LatencyP50Micros, b.LatencyP50Micros) || !near(a.CPUMillicores, b.CPUMillicores) {
			t.Errorf("round trip changed %s: %+v vs %+v", a.Name(), a, b)
		}
	}

	// -A also works, and an unreachable Prometheus falls back with a message.
	out3, errOut, err := execute(t, "predict", "--kubeconfig", kubeconfig, "-A", "--prometheus-url", "http://127.0.0.1:1", "--source", "auto", "--sample-interval", "1s")
	if err != nil {
		t.Fatalf("predict -A with Prometheus down: %v\n%s", err, errOut)
	}
	if !strings.Contains(out3, "[MI0016]") || !strings.Contains(out3, "Prometheus unreachable at http://127.0.0.1:1") || !strings.Contains(out3, "falling back to the sidecars' stats") {
		t.Errorf("no fallback message for an unreachable Prometheus:\n%s", out3)
	}
}

func keys(m map[string]predict.EdgeResult) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func near(a, b float64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	return d <= 1e-6*max(1, b)
}
