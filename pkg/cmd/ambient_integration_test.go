//go:build integration

package cmd

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/internal/testenv"
	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/kube"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
)

// The ambient scenarios match hack/prometheus/gen's series in the
// namespaces ambient, mixed and pods: Prometheus holds what Istio's
// sidecars, waypoints and ztunnels would report for them, and these tests
// create the workloads, Services and waypoint Gateways those reports
// describe on the real control plane (with the Gateway API's CRDs).

// secondNode is a second kwok node, so that ztunnels (one per node) are
// counted from the live cluster.
const secondNode = "kwok-node-1"

// mesh objects of one scenario.
type scenario struct {
	t   *testing.T
	cs  kubernetes.Interface
	dyn dynamic.Interface
	ns  string
	// pods counts the pods its Deployments will run.
	pods int
}

func newScenario(t *testing.T, ns string, labels map[string]string) *scenario {
	t.Helper()
	s := &scenario{t: t, cs: testenv.Client(t), dyn: testenv.DynamicClient(t), ns: ns}
	l := map[string]string{testenv.NamespaceLabel: "true"}
	for k, v := range labels {
		l[k] = v
	}
	ctx := context.Background()
	if _, err := s.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: l}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s (left over from an earlier run? delete it): %v", ns, err)
	}
	t.Cleanup(func() { deleteNamespace(t, s.cs, ns) })
	return s
}

// deleteNamespace deletes ns and waits (up to a minute) until it is gone,
// so that the suite can run again at once.
func deleteNamespace(t *testing.T, cs kubernetes.Interface, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Logf("deleting namespace %s: %v", ns, err)
		return
	}
	for ctx.Err() == nil {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("namespace %s still terminating after a minute", ns)
}

// deploy creates a Deployment whose pods run on node; sidecar adds an
// istio-proxy container as injection would, args are its arguments.
func (s *scenario) deploy(name string, replicas int32, node string, podLabels map[string]string, sidecar bool, args ...string) {
	s.t.Helper()
	labels := map[string]string{"app": name}
	for k, v := range podLabels {
		labels[k] = v
	}
	containers := []corev1.Container{{Name: name, Image: "example.invalid/" + name}}
	if sidecar {
		containers = append(containers, corev1.Container{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.28.0", Args: args})
	}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.ns},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{NodeName: node, Containers: containers}}}}
	if _, err := s.cs.AppsV1().Deployments(s.ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		s.t.Fatal(err)
	}
	s.pods += int(replicas)
}

// waypoint creates a Gateway of class istio-waypoint taking traffic of
// type forTraffic, and its Deployment as Istio would (labelled with the
// Gateway's name, an istio-proxy container running as a waypoint).
func (s *scenario) waypoint(name, forTraffic string, replicas int32) {
	s.t.Helper()
	gw := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": name, "namespace": s.ns, "labels": map[string]any{"istio.io/waypoint-for": forTraffic}},
		"spec": map[string]any{"gatewayClassName": "istio-waypoint",
			"listeners": []any{map[string]any{"name": "mesh", "port": int64(15008), "protocol": "HBONE"}}},
	}}
	if _, err := s.dyn.Resource(kube.GatewayResource).Namespace(s.ns).Create(context.Background(), gw, metav1.CreateOptions{}); err != nil {
		s.t.Fatalf("creating Gateway %s (are the Gateway API CRDs installed? hack/testenv/up.sh installs them): %v", name, err)
	}
	s.deploy(name, replicas, testenv.FakeNodeName, map[string]string{
		"gateway.networking.k8s.io/gateway-name": name, "gateway.istio.io/managed": "istio.io-mesh-controller"}, true, "proxy", "waypoint")
}

// service creates a Service selecting app=name with one port.
func (s *scenario) service(name string, port corev1.ServicePort, headless bool, labels map[string]string) {
	s.t.Helper()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.ns, Labels: labels},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{port}}}
	if headless {
		svc.Spec.ClusterIP = corev1.ClusterIPNone
	}
	if _, err := s.cs.CoreV1().Services(s.ns).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		s.t.Fatal(err)
	}
}

// predict waits for the pods, then runs `predict -n NS` against the real
// control plane and Prometheus and returns its report.
func (s *scenario) predict(extra ...string) *predict.Report {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := testenv.WaitForPodsRunning(ctx, s.cs, s.ns, "", s.pods); err != nil {
		s.t.Fatal(err)
	}
	out, errOut, err := execute(s.t, append(append([]string{"predict", "-o", "json"}, s.live()...), extra...)...)
	if err != nil {
		s.t.Fatalf("predict: %v\n%s", err, errOut)
	}
	var r predict.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		s.t.Fatal(err)
	}
	return &r
}

func (s *scenario) live() []string {
	return []string{"--kubeconfig", testenv.Kubeconfig(s.t), "-n", s.ns,
		"--prometheus-url", envOrFail(s.t, "MESHINSIGHT_PROMETHEUS_URL", "start it with `eval \"$(hack/prometheus/run.sh)\"`"),
		"--at", envOrFail(s.t, "MESHINSIGHT_PROMETHEUS_AT", "start it with `eval \"$(hack/prometheus/run.sh)\"`")}
}

// addNode creates a second kwok node for the test and returns the number
// of nodes the cluster has.
func addNode(t *testing.T, cs kubernetes.Interface) int {
	t.Helper()
	fakeNode(t, cs, secondNode, map[string]string{"node.kubernetes.io/instance-type": "fake-standard"}, true)
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return len(nodes.Items)
}

// edgesByName indexes the baseline's edges by name and fails unless there
// are exactly want of them.
func edgesByName(t *testing.T, r *predict.Report, want int) map[string]predict.EdgeResult {
	t.Helper()
	out := map[string]predict.EdgeResult{}
	for _, e := range r.Baseline.Edges {
		out[e.Name()] = e
	}
	if len(out) != want {
		t.Errorf("want exactly %d edges, one per call, got %v", want, keys(out))
	}
	return out
}

// checkEdge compares an edge's protocol, rate, mTLS and crossings.
func checkEdge(t *testing.T, edges map[string]predict.EdgeResult, name string, proto dataplane.Protocol, rps float64,
	client, server dataplane.Mode, waypoint string) {
	t.Helper()
	e, ok := edges[name]
	if !ok {
		t.Errorf("edge %s missing; edges: %v", name, keys(edges))
		return
	}
	if e.Protocol != proto || !near(e.RequestsPerSecond, rps) || !e.MTLS || e.ClientMode != client || e.ServerMode != server || e.Waypoint != waypoint {
		t.Errorf("%s = %s %.4g rps mtls=%v %s -> %s via %q, want %s %.4g rps mtls=true %s -> %s via %q", name,
			e.Protocol, e.RequestsPerSecond, e.MTLS, e.ClientMode, e.ServerMode, e.Waypoint, proto, rps, client, server, waypoint)
	}
	if !(e.LatencyP50Micros > 0) || !(e.CPUMillicores > 0) {
		t.Errorf("%s has no predicted overhead: %+v", name, e)
	}
}

// proxiesByName indexes the baseline's proxies by kind and workload
// ("waypoint ns/wp") and fails for each of want that is missing.
func proxiesByName(t *testing.T, r *predict.Report, want ...string) map[string]predict.ProxyResult {
	t.Helper()
	out := map[string]predict.ProxyResult{}
	for _, p := range r.Baseline.Proxies {
		out[string(p.Kind)+" "+p.Workload] = p
	}
	for _, name := range want {
		if _, ok := out[name]; !ok {
			t.Errorf("no %s proxy among %+v", name, r.Baseline.Proxies)
		}
	}
	return out
}

// checkTotals checks that the ztunnels count one per node, CPU and memory,
// and that every proxy's memory is in the totals.
func checkTotals(t *testing.T, r *predict.Report, nodes int) {
	t.Helper()
	ps := proxiesByName(t, r)
	z, ok := ps["ztunnel "+predict.ZtunnelOwner]
	if !ok {
		t.Fatalf("no ztunnel among the proxies: %+v", r.Baseline.Proxies)
	}
	const ztunnelMiB = 12 // the reference profile's figure per node (Istio 1.24)
	if z.Replicas != nodes || !near(z.MemoryMiB, ztunnelMiB*float64(nodes)) || !(z.CPUMillicores > 0) {
		t.Errorf("ztunnel = %+v, want %d nodes, %d MiB and some CPU", z, nodes, ztunnelMiB*nodes)
	}
	sum := 0.0
	for _, p := range r.Baseline.Proxies {
		sum += p.MemoryMiB
	}
	if !near(r.Baseline.Totals.MemoryMiB, sum) || r.Baseline.Totals.MemoryMiB < z.MemoryMiB {
		t.Errorf("total memory %.4g MiB, proxies %.4g MiB: the ztunnels' memory is not in the totals", r.Baseline.Totals.MemoryMiB, sum)
	}
}

// TestPredictLiveAmbientWithWaypoint is issue 17's scenario: an ambient
// namespace, Service api behind waypoint wp, front -> api over HTTP through
// the waypoint (L7 from the waypoint, L4 legs from the ztunnels) and
// api -> store over TCP (L4 only).
func TestPredictLiveAmbientWithWaypoint(t *testing.T) {
	cs := testenv.Client(t)
	nodes := addNode(t, cs)
	s := newScenario(t, "ambient", map[string]string{"istio.io/dataplane-mode": "ambient"})
	s.waypoint("wp", kube.WaypointForService, 2)
	s.deploy("front", 1, testenv.FakeNodeName, nil, false)
	s.deploy("api", 2, secondNode, nil, false)
	s.deploy("store", 1, secondNode, nil, false)
	s.service("front", corev1.ServicePort{Name: "http", Port: 8080}, false, nil)
	s.service("api", corev1.ServicePort{Name: "http", Port: 8080}, false, map[string]string{"istio.io/use-waypoint": "wp"})
	s.service("store", corev1.ServicePort{Name: "tcp-db", Port: 5432}, false, nil)
	r := s.predict()

	edges := edgesByName(t, r, 2) // front -> api and api -> store
	checkEdge(t, edges, "ambient/front->ambient/api", dataplane.HTTP, 50, dataplane.Ambient, dataplane.Waypoint, "ambient/wp")
	if e := edges["ambient/front->ambient/api"]; !near(e.RequestBytes, 200) || !near(e.ResponseBytes, 1500) {
		t.Errorf("front -> api sizes %.4g/%.4g, want the waypoint's 200/1500", e.RequestBytes, e.ResponseBytes)
	}
	checkEdge(t, edges, "ambient/api->ambient/store", dataplane.TCP, edges["ambient/api->ambient/store"].RequestsPerSecond,
		dataplane.Ambient, dataplane.Ambient, "")
	for _, p := range r.Baseline.Paths {
		if p.Entry != "ambient/front" {
			t.Errorf("entry point %s: only front is one (no waypoint, no gateway)", p.Entry)
		}
	}
	ps := proxiesByName(t, r, "waypoint ambient/wp")
	for _, p := range r.Baseline.Proxies {
		if p.Kind == predict.KindSidecar {
			t.Errorf("a sidecar proxy in an ambient namespace: %+v", p)
		}
	}
	if wp := ps["waypoint ambient/wp"]; wp.Replicas != 2 || !near(wp.RequestsPerSecondPerReplica, 25) {
		t.Errorf("waypoint ambient/wp = %+v, want 2 replicas at 25 req/s each", wp)
	}
	checkTotals(t, r, nodes)
	table, _, err := execute(t, append([]string{"predict"}, s.live()...)...)
	if err != nil || !strings.Contains(table, "ambient/wp") && !strings.Contains(table, "wp ") {
		t.Errorf("the table does not name the waypoint (%v):\n%s", err, table)
	}
	t.Logf("kubectl meshinsight predict -n ambient:\n%s", table)

	// The graph file keeps it: nodes, the waypoint with its replicas, api
	// behind wp; predict -f on it gives the same figures.
	yamlOut, errOut, err := execute(t, append([]string{"graph", "-o", "yaml"}, s.live()...)...)
	if err != nil {
		t.Fatalf("graph: %v\n%s", err, errOut)
	}
	g, err := callgraph.Parse("graph.yaml", []byte(yamlOut))
	if err != nil {
		t.Fatalf("graph output does not parse: %v\n%s", err, yamlOut)
	}
	if g.Nodes == nil || *g.Nodes != nodes || len(g.Waypoints) != 1 || g.Waypoints[0].ID() != "ambient/wp" || *g.Waypoints[0].Replicas != 2 {
		t.Errorf("graph lacks the nodes or the waypoint:\n%s", yamlOut)
	}
	out, _, err := execute(t, "predict", "-f", writeFile(t, t.TempDir(), "graph.yaml", yamlOut), "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r2 predict.Report
	if err := json.Unmarshal([]byte(out), &r2); err != nil {
		t.Fatal(err)
	}
	for _, e := range r2.Baseline.Edges {
		live := edges[e.Name()]
		if !near(e.LatencyP50Micros, live.LatencyP50Micros) || !near(e.CPUMillicores, live.CPUMillicores) || e.Waypoint != live.Waypoint {
			t.Errorf("round trip changed %s: %+v vs %+v", e.Name(), e, live)
		}
	}
	if !near(r2.Baseline.Totals.MemoryMiB, r.Baseline.Totals.MemoryMiB) || !near(r2.Baseline.Totals.CPUMillicores, r.Baseline.Totals.CPUMillicores) {
		t.Errorf("round trip changed the totals: %+v vs %+v", r2.Baseline.Totals, r.Baseline.Totals)
	}
}

// TestPredictLiveMixedSidecarAmbient: web and pay have sidecars, cart is
// ambient; calls cross the client's sidecar or ztunnel, then the server's.
func TestPredictLiveMixedSidecarAmbient(t *testing.T) {
	cs := testenv.Client(t)
	nodes := addNode(t, cs)
	s := newScenario(t, "mixed", map[string]string{"istio-injection": "enabled"})
	s.deploy("web", 1, testenv.FakeNodeName, nil, true)
	s.deploy("cart", 1, secondNode, map[string]string{"istio.io/dataplane-mode": "ambient", "sidecar.istio.io/inject": "false"}, false)
	s.deploy("pay", 1, secondNode, nil, true)
	for _, name := range []string{"web", "cart", "pay"} {
		s.service(name, corev1.ServicePort{Name: "http", Port: 8080}, false, nil)
	}
	r := s.predict()

	edges := edgesByName(t, r, 2) // web -> cart and cart -> pay
	checkEdge(t, edges, "mixed/web->mixed/cart", dataplane.HTTP, 20, dataplane.Sidecar, dataplane.Ambient, "")
	checkEdge(t, edges, "mixed/cart->mixed/pay", dataplane.HTTP, 8, dataplane.Ambient, dataplane.Sidecar, "")
	if _, ok := proxiesByName(t, r, "sidecar mixed/web", "sidecar mixed/pay")["sidecar mixed/cart"]; ok {
		t.Errorf("ambient cart has a sidecar: %+v", r.Baseline.Proxies)
	}
	checkTotals(t, r, nodes)

	// The other way round: moving web to ambient takes its sidecar away and
	// leaves the ztunnels' count alone.
	w := s.predict("--what-if", "mode=ambient,workload=web")
	if w.Variant == nil {
		t.Fatal("no variant")
	}
	for _, p := range w.Variant.Proxies {
		if p.Workload == "mixed/web" {
			t.Errorf("web keeps a proxy of its own in ambient mode: %+v", p)
		}
		if p.Kind == predict.KindZtunnel && p.Replicas != nodes {
			t.Errorf("what-if ztunnels = %d, want %d (one per node)", p.Replicas, nodes)
		}
	}
}

// TestPredictLiveWaypointForWorkload: db's pods use waypoint db-wp (for
// workload traffic), reached through a headless Service; the namespace's
// waypoint ns-wp (for service traffic) serves api2's Service.
func TestPredictLiveWaypointForWorkload(t *testing.T) {
	cs := testenv.Client(t)
	nodes := addNode(t, cs)
	s := newScenario(t, "pods", map[string]string{"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "ns-wp"})
	s.waypoint("ns-wp", kube.WaypointForService, 1)
	s.waypoint("db-wp", kube.WaypointForWorkload, 1)
	s.deploy("client", 1, testenv.FakeNodeName, nil, false)
	s.deploy("db", 2, secondNode, map[string]string{"istio.io/use-waypoint": "db-wp"}, false)
	s.deploy("api2", 1, secondNode, nil, false)
	s.service("client", corev1.ServicePort{Name: "http", Port: 8080}, false, nil)
	s.service("db", corev1.ServicePort{Name: "http", Port: 8080}, true, nil)
	s.service("api2", corev1.ServicePort{Name: "http", Port: 8080}, false, nil)
	r := s.predict()

	edges := edgesByName(t, r, 2) // client -> db and client -> api2
	checkEdge(t, edges, "pods/client->pods/db", dataplane.HTTP, 12, dataplane.Ambient, dataplane.Waypoint, "pods/db-wp")
	checkEdge(t, edges, "pods/client->pods/api2", dataplane.HTTP, 6, dataplane.Ambient, dataplane.Waypoint, "pods/ns-wp")
	proxiesByName(t, r, "waypoint pods/db-wp", "waypoint pods/ns-wp")
	for _, p := range r.Baseline.Paths {
		if strings.Contains(p.Entry, "wp") {
			t.Errorf("a waypoint is an entry point: %+v", p)
		}
	}
	checkTotals(t, r, nodes)
}
