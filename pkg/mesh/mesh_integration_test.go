//go:build integration

package mesh_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	extv1alpha1 "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	netv1 "istio.io/client-go/pkg/apis/networking/v1"
	secv1 "istio.io/client-go/pkg/apis/security/v1"
	telv1 "istio.io/client-go/pkg/apis/telemetry/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	"istio.io/client-go/pkg/clientset/versioned/scheme"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshinsight/kubectl-meshinsight/internal/testenv"
	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/mesh"
)

// bookinfo is a Bookinfo-like configuration; NS is replaced by the test
// namespace. The API server validates every resource against Istio's CRDs.
const bookinfo = `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ratings-permissive}
spec:
  selector: {matchLabels: {app: ratings}}
  mtls: {mode: PERMISSIVE}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings}
spec:
  host: ratings
  trafficPolicy: {tls: {mode: DISABLE}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews.NS.svc.cluster.local
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 80}
    - {destination: {host: reviews, subset: v2}, weight: 20}
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,connect-failure"}
    mirror: {host: reviews-shadow}
    mirrorPercentage: {value: 25}
    timeout: 10s
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: tracing}
spec:
  tracing: [{randomSamplingPercentage: 10}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ratings-viewer}
spec:
  selector: {matchLabels: {app: ratings}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/NS/sa/bookinfo-reviews"]}}]
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: ratings-authz}
spec:
  selector: {matchLabels: {app: ratings}}
  url: oci://example.com/authz:1.0
`

func create(t *testing.T, ic istioclient.Interface, ns, manifests string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, doc := range strings.Split(strings.ReplaceAll(manifests, "NS", ns), "\n---\n") {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("decoding %s: %v", doc, err)
		}
		opts := metav1.CreateOptions{}
		switch o := obj.(type) {
		case *secv1.PeerAuthentication:
			_, err = ic.SecurityV1().PeerAuthentications(ns).Create(ctx, o, opts)
		case *secv1.AuthorizationPolicy:
			_, err = ic.SecurityV1().AuthorizationPolicies(ns).Create(ctx, o, opts)
		case *netv1.DestinationRule:
			_, err = ic.NetworkingV1().DestinationRules(ns).Create(ctx, o, opts)
		case *netv1.VirtualService:
			_, err = ic.NetworkingV1().VirtualServices(ns).Create(ctx, o, opts)
		case *telv1.Telemetry:
			_, err = ic.TelemetryV1().Telemetries(ns).Create(ctx, o, opts)
		case *extv1alpha1.WasmPlugin:
			_, err = ic.ExtensionsV1alpha1().WasmPlugins(ns).Create(ctx, o, opts)
		default:
			t.Fatalf("no create for %T", obj)
		}
		if err != nil {
			t.Fatalf("creating %T in %q: %v", obj, ns, err)
		}
	}
}

func TestLoadBookinfoFromAPIServer(t *testing.T) {
	cfg := testenv.Config(t)
	ic, err := istioclient.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("creating Istio clientset: %v", err)
	}
	kube := testenv.Client(t)
	ns := testenv.NewNamespace(t, kube)
	// A root namespace of our own, so that mesh-wide resources of other tests
	// (or of istio-system) cannot leak in.
	root := testenv.NewNamespace(t, kube)
	create(t, ic, ns, bookinfo)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, msgs, err := mesh.Load(ctx, ic, []string{ns}, root)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(msgs) != 0 {
		t.Fatalf("Load messages: %v", msgs)
	}

	wl := func(name, app, version, sa string, mode dataplane.Mode) mesh.Workload {
		return mesh.Workload{Namespace: ns, Name: name, Labels: map[string]string{"app": app, "version": version},
			Mode: mode, ServiceAccount: sa}
	}
	productpage := wl("productpage-v1", "productpage", "v1", "bookinfo-productpage", dataplane.Sidecar)
	details := wl("details-v1", "details", "v1", "bookinfo-details", dataplane.Sidecar)
	reviews := wl("reviews-v1", "reviews", "v1", "bookinfo-reviews", dataplane.Sidecar)
	ratings := wl("ratings-v1", "ratings", "v1", "bookinfo-ratings", dataplane.Sidecar)
	loadgen := wl("loadgen", "loadgen", "v1", "default", dataplane.None)
	svc := func(name string, port mesh.Port) mesh.Service {
		return mesh.Service{Namespace: ns, Name: name, Ports: []mesh.Port{port}, Selector: map[string]string{"app": name}}
	}
	http := mesh.Port{Name: "http", Port: 9080, TargetPort: "9080"}
	legacy := mesh.Port{Name: "tcp-legacy", Port: 9080, AppProtocol: "http"}
	detailsSvc, reviewsSvc, ratingsSvc := svc("details", http), svc("reviews", http), svc("ratings", legacy)

	ten := 10.0
	defaultRetries := &callgraph.Retries{Attempts: mesh.DefaultRetryAttempts}
	tests := []struct {
		name           string
		client, server mesh.Workload
		svc            mesh.Service
		port           mesh.Port
		want           mesh.EdgePolicy
	}{
		{"STRICT namespace, default retries", productpage, details, detailsSvc, http, mesh.EdgePolicy{
			Protocol: dataplane.HTTP, ProtocolSource: mesh.ProtocolFromPortName,
			MTLS: true, MTLSReason: "PeerAuthentication " + ns + "/default STRICT",
			Retries: defaultRetries, RetriesReason: "Istio default retry policy",
			TracingSamplingPercent: &ten, MetricsEnabled: true, EgressAllowed: true,
		}},
		{"VirtualService retries and mirror", productpage, reviews, reviewsSvc, http, mesh.EdgePolicy{
			Protocol: dataplane.HTTP, ProtocolSource: mesh.ProtocolFromPortName,
			MTLS: true, MTLSReason: "PeerAuthentication " + ns + "/default STRICT",
			Retries: &callgraph.Retries{Attempts: 3}, RetriesReason: "VirtualService " + ns + "/reviews",
			MirrorPercent: 25, Timeout: 10 * time.Second,
			TracingSamplingPercent: &ten, MetricsEnabled: true, EgressAllowed: true,
		}},
		{"DestinationRule DISABLE to a PERMISSIVE workload", reviews, ratings, ratingsSvc, legacy, mesh.EdgePolicy{
			Protocol: dataplane.HTTP, ProtocolSource: mesh.ProtocolFromAppProtocol,
			MTLS: false, MTLSReason: "DestinationRule " + ns + "/ratings DISABLE",
			Retries: defaultRetries, RetriesReason: "Istio default retry policy",
			TracingSamplingPercent: &ten, MetricsEnabled: true, EgressAllowed: true,
			Filters: []string{"wasm:ratings-authz"},
		}},
		{"unmeshed client to STRICT server", loadgen, details, detailsSvc, http, mesh.EdgePolicy{
			Protocol: dataplane.HTTP, ProtocolSource: mesh.ProtocolFromPortName,
			MTLS: false, MTLSReason: "client not meshed",
			TracingSamplingPercent: &ten, MetricsEnabled: true, EgressAllowed: true,
			Messages: []diag.Message{diag.New(diag.MTLSImpossible, loadgen.ID()+"->"+details.ID(),
				"%s has no proxy and sends plaintext, but PeerAuthentication %s/default STRICT requires mTLS for %s: the call is rejected",
				loadgen.ID(), ns, details.ID())},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Edge(tt.client, tt.server, tt.svc, tt.port)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Edge =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}

	edges := c.CandidateEdges([]mesh.Workload{productpage, details, reviews, ratings, loadgen},
		[]mesh.Service{detailsSvc, reviewsSvc, ratingsSvc})
	want := []mesh.CandidateEdge{{From: reviews.ID(), To: ratings.ID(), Service: ratingsSvc.ID(),
		Reason: "AuthorizationPolicy " + ns + "/ratings-viewer allows principal cluster.local/ns/" + ns + "/sa/bookinfo-reviews"}}
	if !reflect.DeepEqual(edges, want) {
		t.Errorf("CandidateEdges = %+v, want %+v", edges, want)
	}
}
