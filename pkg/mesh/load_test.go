package mesh

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"istio.io/client-go/pkg/clientset/versioned/fake"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// failLists makes LISTs of the matching group/version/resources fail with err;
// empty fields match anything.
func failLists(cs *fake.Clientset, gvr schema.GroupVersionResource, err func(schema.GroupVersionResource) error) {
	cs.PrependReactor("list", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		got := a.GetResource()
		if (gvr.Group == "" || gvr.Group == got.Group) && (gvr.Version == "" || gvr.Version == got.Version) &&
			(gvr.Resource == "" || gvr.Resource == got.Resource) {
			return true, nil, err(got)
		}
		return false, nil, nil
	})
}

// notServed is what the API server answers for a resource it does not serve.
func notServed(gvr schema.GroupVersionResource) error {
	return apierrors.NewNotFound(gvr.GroupResource(), "")
}

func TestLoadIstioNotInstalled(t *testing.T) {
	cs := fake.NewSimpleClientset()
	failLists(cs, schema.GroupVersionResource{}, notServed)
	cfg, msgs, err := Load(context.Background(), cs, []string{"shop"}, "")
	if !errors.Is(err, ErrIstioNotInstalled) {
		t.Fatalf("err = %v, want ErrIstioNotInstalled", err)
	}
	if err.Error() != "Istio CRDs not found in the current context: is Istio installed?" {
		t.Errorf("message = %q", err)
	}
	var nie *NotInstalledError
	if !errors.As(err, &nie) || len(nie.Missing) != 8 {
		t.Fatalf("err = %#v, want a NotInstalledError listing 8 resources", err)
	}
	nie.Context = "kind-prod"
	if err.Error() != `Istio CRDs not found in context "kind-prod": is Istio installed?` {
		t.Errorf("message = %q", err)
	}
	if cfg == nil || len(msgs) != 0 {
		t.Fatalf("cfg = %v, msgs = %v: want a usable empty Config", cfg, msgs)
	}
	// Callers continue with Istio's defaults.
	p := cfg.Edge(frontend, cart, cartSvc, cartHTTP)
	if !p.MTLS || p.MTLSReason != "auto mTLS" || p.Retries == nil || p.Retries.Attempts != 2 || !p.EgressAllowed || !p.MetricsEnabled {
		t.Errorf("defaults = %+v", p)
	}
}

func TestLoadPartialAndOlderIstio(t *testing.T) {
	objs := decode(t, `apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {namespace: shop, name: default}
spec: {mtls: {mode: STRICT}}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {namespace: shop, name: cart}
spec: {host: cart, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}`)
	cs := fake.NewSimpleClientset(objs...)
	// An older Istio: no v1 APIs, no WasmPlugin CRD.
	failLists(cs, schema.GroupVersionResource{Version: "v1"}, notServed)
	failLists(cs, schema.GroupVersionResource{Resource: "wasmplugins"}, notServed)
	c, msgs, err := Load(context.Background(), cs, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Code != diag.PartialTopology || msgs[0].Subject != "wasmplugins.extensions.istio.io" {
		t.Errorf("messages = %v, want one PartialTopology for wasmplugins", msgs)
	}
	p := c.Edge(frontend, cart, cartSvc, cartHTTP)
	if !p.MTLS || p.MTLSReason != "DestinationRule shop/cart ISTIO_MUTUAL" {
		t.Errorf("MTLS = %v (%q): the v1alpha3 DestinationRule was not read", p.MTLS, p.MTLSReason)
	}
	mode, src := c.serverMTLS(cart, cartHTTP, &diag.List{})
	if mode != mtlsStrict || src != "PeerAuthentication shop/default" {
		t.Errorf("server mode = %v from %q: the v1beta1 PeerAuthentication was not read", mode, src)
	}
}

func TestLoadForbiddenAndErrors(t *testing.T) {
	cs := fake.NewSimpleClientset()
	failLists(cs, schema.GroupVersionResource{Resource: "envoyfilters"}, func(gvr schema.GroupVersionResource) error {
		return apierrors.NewForbidden(gvr.GroupResource(), "", errors.New("RBAC"))
	})
	_, msgs, err := Load(context.Background(), cs, []string{"shop"}, "")
	if err != nil {
		t.Fatal(err)
	}
	all := ""
	for _, m := range msgs {
		if m.Code != diag.PartialTopology || m.Severity != diag.Warning {
			t.Errorf("unexpected %v", m)
		}
		all += m.Message + "\n"
	}
	if len(msgs) != 2 || !strings.Contains(all, `listing EnvoyFilters in "istio-system" is forbidden`) ||
		!strings.Contains(all, `listing EnvoyFilters in "shop" is forbidden`) {
		t.Errorf("messages = %v, want forbidden warnings for both namespaces", msgs)
	}

	cs = fake.NewSimpleClientset()
	failLists(cs, schema.GroupVersionResource{Resource: "virtualservices"}, func(schema.GroupVersionResource) error {
		return apierrors.NewServiceUnavailable("etcd is down")
	})
	_, _, err = Load(context.Background(), cs, nil, "")
	if err == nil || errors.Is(err, ErrIstioNotInstalled) || !strings.Contains(err.Error(), "listing VirtualServices in all namespaces: etcd is down") {
		t.Errorf("err = %v", err)
	}
}

func TestLoadListsOncePerKindAndNamespace(t *testing.T) {
	cs := fake.NewSimpleClientset(decode(t, strings.Repeat(pa("shop", "p", t0, `{}`)+"\n---\n", 1))...)
	if _, _, err := Load(context.Background(), cs, []string{"shop", "web", "shop"}, "mesh-root"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range cs.Actions() {
		if a.GetVerb() != "list" {
			t.Errorf("unexpected %s", a.GetVerb())
		}
		got = append(got, a.GetNamespace()+"/"+a.GetResource().Resource)
	}
	if len(got) != 3*8 {
		t.Errorf("%d LISTs, want 24 (3 namespaces × 8 kinds): %v", len(got), got)
	}
	for _, want := range []string{"shop/peerauthentications", "web/wasmplugins", "mesh-root/authorizationpolicies"} {
		if !slices.Contains(got, want) {
			t.Errorf("no LIST of %s in %v", want, got)
		}
	}
	cs = fake.NewSimpleClientset()
	if _, _, err := Load(context.Background(), cs, nil, ""); err != nil {
		t.Fatal(err)
	}
	if n := len(cs.Actions()); n != 8 {
		t.Errorf("%d LISTs across all namespaces, want 8", n)
	}
}

// TestOddResources feeds resources with empty specs and selectors: nothing may
// panic and the defaults hold.
func TestOddResources(t *testing.T) {
	var docs []string
	for k, selector := range map[string]string{
		"security.istio.io/v1 PeerAuthentication":  "selector: {}",
		"security.istio.io/v1 AuthorizationPolicy": "selector: {}",
		"networking.istio.io/v1 DestinationRule":   "workloadSelector: {}",
		"networking.istio.io/v1 VirtualService":    "hosts: []",
		"networking.istio.io/v1 Sidecar":           "workloadSelector: {}",
		"telemetry.istio.io/v1 Telemetry":          "selector: {}",
		"networking.istio.io/v1alpha3 EnvoyFilter": "workloadSelector: {}",
		"extensions.istio.io/v1alpha1 WasmPlugin":  "selector: {}",
	} {
		av, kind, _ := strings.Cut(k, " ")
		for i, spec := range []string{"", "spec: {}", "spec: {" + selector + "}"} {
			docs = append(docs, fmt.Sprintf("apiVersion: %s\nkind: %s\nmetadata: {namespace: shop, name: odd%d}\n%s", av, kind, i, spec))
		}
	}
	docs = append(docs, vs("shop", "holes", t0, `{hosts: [""], http: [{}, {match: [{}], route: [{}], mirrors: [{}], fault: {}, retries: {}}], tcp: [{}], tls: [{}]}`),
		dr("shop", "holes", `{trafficPolicy: {portLevelSettings: [{}, {port: {}}]}, subsets: [{}]}`))
	c := load(t, strings.Join(docs, "\n---\n"))
	for _, m := range []dataplane.Mode{dataplane.Sidecar, dataplane.Ambient, dataplane.Waypoint, dataplane.None} {
		_ = c.Edge(withMode(frontend, m), withMode(cart, m), cartSvc, cartHTTP)
		_ = c.Edge(Workload{}, Workload{Mode: m}, Service{}, Port{})
	}
	_ = c.CandidateEdges([]Workload{frontend, cart, {}}, []Service{cartSvc, {}})

	var nilConfig *Config
	p := nilConfig.Edge(frontend, cart, cartSvc, cartHTTP)
	if !p.MTLS || p.RetriesReason != "Istio default retry policy" || nilConfig.RootNamespace() != DefaultRootNamespace {
		t.Errorf("nil Config: %+v", p)
	}
	if got := nilConfig.CandidateEdges([]Workload{frontend, cart}, []Service{cartSvc}); got != nil {
		t.Errorf("nil Config candidates = %v", got)
	}
}
