package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshinsight/kubectl-meshinsight/internal/promtest"
	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/kube"
	"github.com/meshinsight/kubectl-meshinsight/pkg/telemetry"
)

// bookinfoObjects is a sidecar namespace with productpage calling reviews,
// the pods of telemetry's stats fixtures.
func bookinfoObjects() []runtime.Object {
	labels := func(app string) map[string]string { return map[string]string{"app": app, "version": "v1"} }
	deploy := func(name, app string) *appsv1.Deployment {
		one := int32(1)
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "bookinfo"},
			Spec: appsv1.DeploymentSpec{Replicas: &one, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels(app)}}}}
	}
	pod := func(name, deployment, app string) []runtime.Object {
		t := true
		rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: deployment + "-rs", Namespace: "bookinfo",
			OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: deployment, Controller: &t, APIVersion: "apps/v1"}}}}
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "bookinfo", Labels: labels(app),
			Annotations:     map[string]string{"sidecar.istio.io/status": "{}"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: deployment + "-rs", Controller: &t, APIVersion: "apps/v1"}}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: app}, {Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.28.0"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1",
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
		return []runtime.Object{rs, p}
	}
	svc := func(name string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "bookinfo"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Name: "http", Port: 9080}}}}
	}
	objs := []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bookinfo", Labels: map[string]string{"istio-injection": "enabled"}}},
		deploy("productpage-v1", "productpage"), deploy("reviews-v1", "reviews"), svc("productpage"), svc("reviews"),
	}
	objs = append(objs, pod("productpage-v1-abc", "productpage-v1", "productpage")...)
	return append(objs, pod("reviews-v1-def", "reviews-v1", "reviews")...)
}

// scrape is a pod proxy answer: the stats text, or an error.
type scrape struct {
	body []byte
	err  error
}

func (s scrape) DoRaw(context.Context) ([]byte, error) { return s.body, s.err }
func (s scrape) Stream(context.Context) (io.ReadCloser, error) {
	if s.err != nil {
		return nil, s.err
	}
	return io.NopCloser(bytes.NewReader(s.body)), nil
}

// fakeCluster holds the clients of a fake cluster and counts the sidecar
// scrapes it served.
type fakeCluster struct {
	clients *kube.Clients
	mu      sync.Mutex
	scrapes int
}

// newFakeCluster serves bookinfo; sidecars answers each pod's nth scrape
// (nil: every scrape fails as an unreachable pod would).
func newFakeCluster(t *testing.T, sidecars func(pod string, n int) ([]byte, error), extra ...runtime.Object) *fakeCluster {
	t.Helper()
	kc := fake.NewSimpleClientset(append(bookinfoObjects(), extra...)...)
	fc := &fakeCluster{}
	seen := map[string]int{}
	kc.AddProxyReactor("pods", func(a k8stesting.Action) (bool, rest.ResponseWrapper, error) {
		fc.mu.Lock()
		defer fc.mu.Unlock()
		fc.scrapes++
		name := a.(k8stesting.ProxyGetAction).GetName()
		seen[name]++
		if sidecars == nil {
			return true, scrape{err: errors.New("the server is currently unable to handle the request")}, nil
		}
		body, err := sidecars(name, seen[name])
		return true, scrape{body: body, err: err}, nil
	})
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{kube.GatewayResource: "GatewayList"})
	fc.clients = &kube.Clients{Config: &rest.Config{Host: "https://127.0.0.1:1"}, Kube: kc, Dynamic: dyn,
		Istio: istiofake.NewSimpleClientset(), Context: "lab", Namespace: "bookinfo"}
	return fc
}

// statsFixture serves telemetry's two recorded scrapes of each pod.
func statsFixture(t *testing.T) func(pod string, n int) ([]byte, error) {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile("../telemetry/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	stats := map[string][2][]byte{
		"productpage-v1-abc": {read("stats-productpage-1.txt"), read("stats-productpage-2.txt")},
		"reviews-v1-def":     {read("stats-reviews-1.txt"), read("stats-reviews-2.txt")},
	}
	return func(pod string, n int) ([]byte, error) {
		s, ok := stats[pod]
		if !ok {
			return nil, fmt.Errorf("pods %q not found", pod)
		}
		return s[min(n, 2)-1], nil
	}
}

// productpageToReviews is the edge Prometheus holds in these tests.
var productpageToReviews = promtest.Requests{Namespace: "bookinfo", From: "productpage-v1", To: "reviews-v1", Service: "reviews", Protocol: "http", Rate: 12.5}

// TestCollectFallbackChain follows Collect's sources: Prometheus, else the
// sidecars' stats, else configuration, each fallback said in a message.
func TestCollectFallbackChain(t *testing.T) {
	opts := func(source telemetry.Source, promURL string) Options {
		return Options{Namespace: "bookinfo", Source: source, PrometheusURL: promURL, Window: 5 * time.Minute, SampleInterval: 10 * time.Millisecond}
	}
	for name, tc := range map[string]struct {
		sidecars    bool // serve the stats fixtures (else every scrape fails)
		opts        func(t *testing.T) Options
		wantEdges   int
		wantScrapes bool
		wantNotes   []string // MI0016 message parts
		wantAssumed bool     // edges from configuration
	}{
		"prometheus": {opts: func(t *testing.T) Options { return opts(telemetry.SourceAuto, promtest.Serve(t, productpageToReviews)) },
			wantEdges: 1},
		"prometheus down, sidecars": {sidecars: true, opts: func(t *testing.T) Options { return opts(telemetry.SourceAuto, promtest.Unreachable(t)) },
			wantEdges: 1, wantScrapes: true, wantNotes: []string{"Prometheus unreachable at", "falling back to the sidecars' stats"}},
		"prometheus empty, sidecars": {sidecars: true, opts: func(t *testing.T) Options { return opts(telemetry.SourceAuto, promtest.Serve(t)) },
			wantEdges: 1, wantScrapes: true, wantNotes: []string{"has no Istio traffic for these namespaces", "falling back to the sidecars' stats"}},
		"no prometheus service, sidecars": {sidecars: true, opts: func(t *testing.T) Options { return opts(telemetry.SourceAuto, "") },
			wantEdges: 1, wantScrapes: true, wantNotes: []string{"service istio-system/prometheus: not found (pass --prometheus-url to use another)"}},
		"both down, configuration": {opts: func(t *testing.T) Options { return opts(telemetry.SourceAuto, promtest.Unreachable(t)) },
			wantScrapes: true, wantNotes: []string{"falling back to the sidecars' stats", "sidecar stats:", "edges come from configuration"}, wantAssumed: true},
		"prometheus only, down": {sidecars: true, opts: func(t *testing.T) Options { return opts(telemetry.SourcePrometheus, promtest.Unreachable(t)) },
			wantNotes: []string{"Prometheus unreachable at", "no telemetry used"}, wantAssumed: true},
		"sidecars only": {sidecars: true, opts: func(t *testing.T) Options { return opts(telemetry.SourceSidecars, promtest.Unreachable(t)) },
			wantEdges: 1, wantScrapes: true},
		"configuration only": {sidecars: true, opts: func(t *testing.T) Options {
			return opts(telemetry.SourceConfig, promtest.Serve(t, productpageToReviews))
		},
			wantAssumed: true},
	} {
		t.Run(name, func(t *testing.T) {
			var stats func(string, int) ([]byte, error)
			if tc.sidecars {
				stats = statsFixture(t)
			}
			fc := newFakeCluster(t, stats)
			g, msgs, err := Collect(context.Background(), fc.clients, tc.opts(t))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := callgraph.Resolve(g); err != nil {
				t.Fatalf("collected graph does not resolve: %v", err)
			}
			observed := 0
			for _, e := range g.Edges {
				if e.Name() == "bookinfo/productpage-v1->bookinfo/reviews-v1" && e.RequestsPerSecond != nil {
					observed++
				}
			}
			if observed != tc.wantEdges {
				t.Errorf("%d observed productpage->reviews edges, want %d; graph %+v", observed, tc.wantEdges, g.Edges)
			}
			if (fc.scrapes > 0) != tc.wantScrapes {
				t.Errorf("%d sidecar scrapes", fc.scrapes)
			}
			for _, want := range tc.wantNotes {
				if !diag.Has(msgs, diag.TelemetryIncomplete, want) {
					t.Errorf("no MI0016 message with %q in %v", want, msgs)
				}
			}
			if diag.Has(msgs, diag.TelemetryIncomplete, "no telemetry used: ") != tc.wantAssumed {
				t.Errorf("edges from configuration: %v, want %v (%v)", !tc.wantAssumed, tc.wantAssumed, msgs)
			}
		})
	}
}

func TestCollectWithoutIstioOrAccess(t *testing.T) {
	// Istio's CRDs are not served: defaults, with a message naming the context.
	fc := newFakeCluster(t, statsFixture(t))
	notServed := func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: a.GetResource().Resource}, "")
	}
	fc.clients.Istio.(*istiofake.Clientset).PrependReactor("list", "*", notServed)
	_, msgs, err := Collect(context.Background(), fc.clients, Options{Namespace: "bookinfo", Source: telemetry.SourceConfig})
	if err != nil {
		t.Fatal(err)
	}
	if !diag.Has(msgs, diag.PartialTopology, `Istio CRDs not found in context "lab": is Istio installed?; continuing with Istio's defaults`) {
		t.Errorf("messages %v", msgs)
	}

	// Listing pods is forbidden: an error, not a graph.
	fc = newFakeCluster(t, nil)
	fc.clients.Kube.(*fake.Clientset).PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no"))
	})
	if _, _, err := Collect(context.Background(), fc.clients, Options{Namespace: "bookinfo", Source: telemetry.SourceConfig}); err == nil {
		t.Error("forbidden pods gave a graph")
	}
}
