//go:build integration

package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/meshinsight/kubectl-meshinsight/internal/testenv"
	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// applyManifests creates every object of a multi-document YAML manifest
// through the dynamic client (dryRun: the server validates and admits it,
// nothing is stored) and returns the first error.
func applyManifests(ctx context.Context, dyn dynamic.Interface, manifest string, dryRun bool) error {
	opts := metav1.CreateOptions{FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	for _, doc := range strings.Split(manifest, "\n---\n") {
		var obj map[string]any
		if err := sigsyaml.Unmarshal([]byte(doc), &obj); err != nil {
			return fmt.Errorf("decoding %q: %w", doc, err)
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
		if err != nil {
			return err
		}
		gvr := gv.WithResource(strings.ToLower(u.GetKind()) + "s")
		var ri dynamic.ResourceInterface = dyn.Resource(gvr)
		if u.GetNamespace() != "" {
			ri = dyn.Resource(gvr).Namespace(u.GetNamespace())
		}
		if _, err := ri.Create(ctx, u, opts); err != nil {
			return fmt.Errorf("creating %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
	}
	return nil
}

// deployment renders a Deployment of a sidecar workload on the kwok node.
func deployment(ns, name string, replicas int, labels string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  replicas: %[3]d
  selector: {matchLabels: {%[4]s}}
  template:
    metadata: {labels: {%[4]s}}
    spec:
      nodeName: %[5]s
      containers:
      - {name: app, image: example.invalid/%[2]s}
      - {name: istio-proxy, image: docker.io/istio/proxyv2:1.28.0}
`, ns, name, replicas, labels, testenv.FakeNodeName)
}

// visibilityNamespaces are the namespaces of TestProxyConfigCountsLive.
var visibilityNamespaces = []string{"vis-shop", "vis-data", "vis-ops"}

// visibilityManifest is the mesh of TestProxyConfigCountsLive. Every
// namespace has a Sidecar resource, so that other namespaces of the shared
// control plane do not change its counts.
var visibilityManifest = strings.Join([]string{
	deployment("vis-shop", "web", 2, "app: web"),
	deployment("vis-shop", "api-v1", 2, "app: api, version: v1"),
	deployment("vis-shop", "api-v2", 1, "app: api, version: v2"),
	deployment("vis-data", "db", 1, "app: db, role: primary"),
	deployment("vis-data", "cache", 1, "app: cache"),
	deployment("vis-ops", "metrics", 3, "app: metrics"),
	`apiVersion: v1
kind: Service
metadata: {name: web, namespace: vis-shop}
spec: {selector: {app: web}, ports: [{name: http, port: 80}]}`,
	`apiVersion: v1
kind: Service
metadata: {name: api, namespace: vis-shop}
spec: {selector: {app: api}, ports: [{name: http, port: 8080}, {name: grpc, port: 9090}]}`,
	`apiVersion: v1
kind: Service
metadata: {name: db, namespace: vis-data}
spec: {selector: {app: db}, ports: [{name: tcp-pg, port: 5432}]}`,
	`apiVersion: v1
kind: Service
metadata: {name: cache, namespace: vis-data, annotations: {networking.istio.io/exportTo: "."}}
spec: {selector: {app: cache}, ports: [{name: redis, port: 6379}]}`,
	`apiVersion: v1
kind: Service
metadata: {name: metrics, namespace: vis-ops, annotations: {networking.istio.io/exportTo: "vis-ops,vis-shop"}}
spec: {selector: {app: metrics}, ports: [{name: http, port: 9100}, {name: statsd, port: 8125, protocol: UDP}]}`,
	`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: vis-shop}
spec: {egress: [{hosts: ["./*", "vis-data/*"]}]}`,
	`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: web, namespace: vis-shop}
spec:
  workloadSelector: {labels: {app: web}}
  egress: [{port: {number: 8080, protocol: HTTP, name: http}, hosts: ["./api.vis-shop.svc.cluster.local"]}]`,
	`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: vis-data}
spec: {egress: [{hosts: ["./*", "vis-shop/*", "vis-ops/*"]}]}`,
	`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: vis-ops}
spec: {egress: [{hosts: ["./*", "vis-shop/frontdoor.vis-shop.svc.cluster.local"]}]}`,
	`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: frontdoor, namespace: vis-shop}
spec: {hosts: [frontdoor.vis-shop.svc.cluster.local], http: [{route: [{destination: {host: api}}]}]}`,
	`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: vis-shop}
spec: {host: api, exportTo: ["."], subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}`,
	`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db, namespace: vis-data}
spec: {host: db.vis-data.svc.cluster.local, subsets: [{name: primary, labels: {role: primary}}]}`,
}, "\n---\n")

// TestProxyConfigCountsLive is issue 16's first check: on the real control
// plane, with Sidecar resources, exportTo on Services and
// DestinationRules, a VirtualService and DestinationRule subsets, `graph
// -A` gives every sidecar the clusters and endpoints worked out by hand
// below, and `predict -A` its memory from them.
func TestProxyConfigCountsLive(t *testing.T) {
	kubeconfig := testenv.Kubeconfig(t)
	cs, dyn := testenv.Client(t), testenv.DynamicClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, ns := range visibilityNamespaces {
		if err := applyManifests(ctx, dyn, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s, labels: {%s: \"true\", istio-injection: enabled}}\n",
			ns, testenv.NamespaceLabel), false); err != nil {
			t.Fatalf("%v (left over from an earlier run? delete it)", err)
		}
		t.Cleanup(func() { deleteNamespace(t, cs, ns) })
		waitServiceAccount(t, ctx, ns)
	}
	if err := applyManifests(ctx, dyn, visibilityManifest, false); err != nil {
		t.Fatal(err)
	}
	for ns, n := range map[string]int{"vis-shop": 5, "vis-data": 2, "vis-ops": 3} {
		waitReady(t, ctx, ns, n)
	}

	out, errOut, err := execute(t, "graph", "--kubeconfig", kubeconfig, "-A", "--source", "config", "-o", "json")
	if err != nil {
		t.Fatalf("graph: %v\n%s", err, errOut)
	}
	var g callgraph.Graph
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		t.Fatal(err)
	}
	want := map[string]callgraph.ProxyConfig{
		// Sidecar vis-shop/default (./*, vis-data/*): web (1 cluster, 2
		// endpoints); api's two ports, each with DestinationRule api's two
		// subsets (3 clusters, 3 + 2 + 1 endpoints); db with its subset
		// (2 clusters, 1 + 1 endpoints); cache is exported to vis-data
		// only, metrics not imported. Listeners: HTTP ports 80, 8080, 9090
		// and TCP db:5432; routes: web, api ×2.
		"vis-shop/api-v1": {Services: 3, Clusters: 9, Endpoints: 16, Listeners: 4, Routes: 3},
		"vis-shop/api-v2": {Services: 3, Clusters: 9, Endpoints: 16, Listeners: 4, Routes: 3},
		// Sidecar vis-shop/web: api's port 8080 only.
		"vis-shop/web": {Services: 1, Clusters: 3, Endpoints: 6, Listeners: 1, Routes: 1},
		// Sidecar vis-data/default: web, api without DestinationRule api
		// (exported to vis-shop only: 1 cluster and 3 endpoints per port),
		// db with its subset, cache; metrics is exported to vis-ops and
		// vis-shop only.
		"vis-data/db":    {Services: 4, Clusters: 6, Endpoints: 11, Listeners: 5, Routes: 3},
		"vis-data/cache": {Services: 4, Clusters: 6, Endpoints: 11, Listeners: 5, Routes: 3},
		// Sidecar vis-ops/default: metrics (its UDP port is not proxied),
		// and api through VirtualService frontdoor, whose host it imports.
		"vis-ops/metrics": {Services: 2, Clusters: 3, Endpoints: 9, Listeners: 3, Routes: 3},
	}
	got := map[string]callgraph.ProxyConfig{}
	for _, w := range g.Workloads {
		if w.ProxyConfig != nil {
			got[w.ID()] = *w.ProxyConfig
		}
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %+v, want %+v", id, got[id], w)
		}
	}

	// predict prices each sidecar's memory from its counts: the reference
	// profile's model, at Istio's 2 worker threads.
	out, errOut, err = execute(t, "predict", "--kubeconfig", kubeconfig, "-A", "--source", "config", "-o", "json")
	if err != nil {
		t.Fatalf("predict: %v\n%s", err, errOut)
	}
	var r predict.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	ref, err := profile.Reference()
	if err != nil {
		t.Fatal(err)
	}
	m, _ := ref.ProxyMemory("sidecar")
	for _, p := range r.Baseline.Proxies {
		w, ok := want[p.Workload]
		if !ok {
			continue
		}
		mib := m.MiB(profile.MemoryConfig{Clusters: w.Clusters, Endpoints: w.Endpoints, WorkerThreads: 2})
		if p.ProxyConfig == nil || *p.ProxyConfig != w || !near(p.MemoryMiBPerReplica, mib) {
			t.Errorf("%s: config %+v, %.4g MiB per sidecar; want %+v, %.4g MiB", p.Workload, p.ProxyConfig, p.MemoryMiBPerReplica, w, mib)
		}
		delete(want, p.Workload)
	}
	if len(want) > 0 {
		t.Errorf("no proxies predicted for %v", want)
	}
}

func waitServiceAccount(t *testing.T, ctx context.Context, ns string) {
	t.Helper()
	for {
		_, err := testenv.Client(t).CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return
		}
		if !apierrors.IsNotFound(err) || ctx.Err() != nil {
			t.Fatalf("waiting for namespace %s's default ServiceAccount: %v", ns, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitReady waits until n pods of namespace ns are Running and Ready: the
// endpoints the counts expect.
func waitReady(t *testing.T, ctx context.Context, ns string, n int) {
	t.Helper()
	pods, err := testenv.WaitForPodsRunning(ctx, testenv.Client(t), ns, "", n)
	if err != nil {
		t.Fatal(err)
	}
	for ctx.Err() == nil {
		ready := 0
		list, err := testenv.Client(t).CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range list.Items {
			for _, c := range p.Status.Conditions {
				if c.Type == "Ready" && c.Status == "True" {
					ready++
				}
			}
		}
		if ready >= n {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%d pods of %s running, not all Ready: %v", len(pods), ns, ctx.Err())
}

// TestScopeObservedLive is issue 16's last check, on the live Bookinfo
// example (the real control plane and a real Prometheus): `predict
// --what-if scope=observed` shows each sidecar's memory before and after;
// `graph --sidecar-resources` writes Sidecars that the real Istio CRD
// schema admits (server-side dry-run; a broken one is refused, so the
// validation is live); and once created, they give every sidecar exactly
// the configuration the what-if predicted.
func TestScopeObservedLive(t *testing.T) {
	kubeconfig := testenv.Kubeconfig(t)
	promURL := envOrFail(t, "MESHINSIGHT_PROMETHEUS_URL", "start it with `eval \"$(hack/prometheus/run.sh)\"`")
	at := envOrFail(t, "MESHINSIGHT_PROMETHEUS_AT", "start it with `eval \"$(hack/prometheus/run.sh)\"`")
	cs, dyn := testenv.Client(t), testenv.DynamicClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// TestPredictLiveNamespace's bookinfo may still be terminating.
	for ctx.Err() == nil {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, liveNS, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	ic := testenv.NewClient(t, "Istio client", istioclient.NewForConfig)
	createBookinfo(t, cs, ic)
	t.Cleanup(func() { deleteNamespace(t, cs, liveNS) })
	live := []string{"--kubeconfig", kubeconfig, "-n", liveNS, "--prometheus-url", promURL, "--at", at}

	out, errOut, err := execute(t, append([]string{"predict", "-o", "json", "--what-if", "scope=observed"}, live...)...)
	if err != nil {
		t.Fatalf("predict: %v\n%s", err, errOut)
	}
	var r predict.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	// Bookinfo's four Services: productpage (2 ready pods), reviews
	// (reviews-v1 and -v2), details, ratings: 4 clusters, 6 endpoints for
	// every sidecar, all on HTTP port 9080 (one listener). Observed:
	// productpage calls reviews and details, reviews-v2 calls ratings, the
	// others nothing. A what-if sums each Service's listeners, an upper
	// bound (productpage's two Services share one).
	before := callgraph.ProxyConfig{Services: 4, Clusters: 4, Endpoints: 6, Listeners: 1, Routes: 4}
	after := map[string]callgraph.ProxyConfig{
		"bookinfo/productpage-v1": {Services: 2, Clusters: 2, Endpoints: 3, Listeners: 2, Routes: 2},
		"bookinfo/reviews-v1":     {},
		"bookinfo/reviews-v2":     {Services: 1, Clusters: 1, Endpoints: 1, Listeners: 1, Routes: 1},
		"bookinfo/details-v1":     {},
		"bookinfo/ratings-v1":     {},
	}
	// Workloads that telemetry names but this test does not deploy (the
	// ingress gateway, ratings-v2, mongodb) are stubs with the default
	// configuration: only the deployed ones are checked.
	proxies := func(sc *predict.Scenario) map[string]predict.ProxyResult {
		out := map[string]predict.ProxyResult{}
		for _, p := range sc.Proxies {
			out[p.Workload] = p
		}
		return out
	}
	baseline, variant := proxies(&r.Baseline), proxies(r.Variant)
	for id, w := range after {
		b, bok := baseline[id]
		p, pok := variant[id]
		if !bok || !pok || b.ProxyConfig == nil || p.ProxyConfig == nil {
			t.Errorf("%s: baseline %+v, variant %+v", id, b, p)
			continue
		}
		if *b.ProxyConfig != before || *p.ProxyConfig != w || !(p.MemoryMiBPerReplica < b.MemoryMiBPerReplica) {
			t.Errorf("%s: %+v (%.2f MiB) → %+v (%.2f MiB), want %+v → %+v, smaller", id, *b.ProxyConfig, b.MemoryMiBPerReplica,
				*p.ProxyConfig, p.MemoryMiBPerReplica, before, w)
		}
		t.Logf("%s: %.2f MiB → %.2f MiB per sidecar (%d → %d clusters)", id, b.MemoryMiBPerReplica, p.MemoryMiBPerReplica, b.ProxyConfig.Clusters, p.ProxyConfig.Clusters)
	}
	if !(r.Variant.Totals.MemoryMiB < r.Baseline.Totals.MemoryMiB) {
		t.Errorf("memory %.2f → %.2f MiB", r.Baseline.Totals.MemoryMiB, r.Variant.Totals.MemoryMiB)
	}
	// The default table fits 80 columns and may leave the memory detail
	// out; -o wide shows every column.
	table, _, err := execute(t, append([]string{"predict", "--what-if", "scope=observed", "-o", "wide"}, live...)...)
	if err != nil || !strings.Contains(table, "MEM/REPLICA") || !strings.Contains(table, "→") {
		t.Errorf("table without per-sidecar memory before and after (%v):\n%s", err, table)
	}

	sidecars, errOut, err := execute(t, append([]string{"graph", "--sidecar-resources"}, live...)...)
	if err != nil {
		t.Fatalf("graph --sidecar-resources: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, "[MI0036]") || !strings.Contains(sidecars, "# Warning: these Sidecars import only") {
		t.Errorf("no outboundTrafficPolicy warning:\n%s\n%s", errOut, sidecars)
	}
	if err := applyManifests(ctx, dyn, sidecars, true); err != nil {
		t.Fatalf("server-side dry-run refused the generated Sidecars: %v\n%s", err, sidecars)
	}
	broken := strings.Replace(sidecars, "app: productpage", "app: productpage*", 1)
	if err := applyManifests(ctx, dyn, broken, true); err == nil || !strings.Contains(err.Error(), "wildcard is not supported") {
		t.Errorf("dry-run admitted a Sidecar whose selector has a wildcard (is the CRD schema installed?): %v", err)
	}

	// Created for real, they give the sidecars the what-if's configuration.
	if err := applyManifests(ctx, dyn, sidecars, false); err != nil {
		t.Fatal(err)
	}
	out, errOut, err = execute(t, append([]string{"graph", "-o", "json"}, live...)...)
	if err != nil {
		t.Fatalf("graph: %v\n%s", err, errOut)
	}
	var g callgraph.Graph
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		t.Fatal(err)
	}
	for _, w := range g.Workloads {
		want, ok := after[w.ID()]
		if !ok {
			continue
		}
		if c := w.ProxyConfig; c == nil || c.Services != want.Services || c.Clusters != want.Clusters || c.Endpoints != want.Endpoints || c.Routes != want.Routes {
			t.Errorf("%s with its generated Sidecar: %+v, the what-if predicted %+v", w.ID(), w.ProxyConfig, want)
		}
	}
}
