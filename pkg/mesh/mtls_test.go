package mesh

import (
	"slices"
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// mtlsCase is the mTLS decision wanted for a call to port with resources loaded.
type mtlsCase struct {
	name      string
	resources []string
	port      Port
	wantMTLS  bool
	reason    string
	code      diag.Code
}

// checkMTLS loads each case's resources and checks the decision edge takes on
// them for the case's port.
func checkMTLS(t *testing.T, tests []mtlsCase, edge func(c *Config, port Port) EdgePolicy) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := edge(load(t, strings.Join(tt.resources, "\n---\n")), tt.port)
			if p.MTLS != tt.wantMTLS || p.MTLSReason != tt.reason {
				t.Errorf("MTLS = %v (%q), want %v (%q)", p.MTLS, p.MTLSReason, tt.wantMTLS, tt.reason)
			}
			if got := codes(p.Messages); (tt.code == "" && len(got) != 0) || (tt.code != "" && !slices.Contains(got, tt.code)) {
				t.Errorf("messages = %v, want code %q", p.Messages, tt.code)
			}
		})
	}
}

func TestPeerAuthenticationPrecedence(t *testing.T) {
	const t1, t2 = "2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z"
	tests := []mtlsCase{
		{"no policy: PERMISSIVE with auto mTLS", nil, cartHTTP, true, "auto mTLS", ""},
		{"mesh-wide STRICT", []string{pa("istio-system", "default", t1, `{mtls: {mode: STRICT}}`)},
			cartHTTP, true, "PeerAuthentication istio-system/default STRICT", ""},
		{"namespace DISABLE beats mesh STRICT", []string{
			pa("istio-system", "default", t1, `{mtls: {mode: STRICT}}`),
			pa("shop", "default", t1, `{mtls: {mode: DISABLE}}`)},
			cartHTTP, false, "PeerAuthentication shop/default DISABLE", ""},
		{"namespace UNSET inherits mesh STRICT", []string{
			pa("istio-system", "default", t1, `{mtls: {mode: STRICT}}`),
			pa("shop", "default", t1, `{mtls: {mode: UNSET}}`)},
			cartHTTP, true, "PeerAuthentication istio-system/default STRICT", ""},
		{"namespace without mtls inherits", []string{
			pa("istio-system", "default", t1, `{mtls: {mode: DISABLE}}`),
			pa("shop", "default", t1, `{}`)},
			cartHTTP, false, "PeerAuthentication istio-system/default DISABLE", ""},
		{"workload PERMISSIVE beats namespace STRICT", []string{
			pa("shop", "default", t1, `{mtls: {mode: STRICT}}`),
			pa("shop", "cart", t1, `{selector: {matchLabels: {app: cart}}, mtls: {mode: PERMISSIVE}}`)},
			cartHTTP, true, "auto mTLS", ""},
		{"workload selector that does not match", []string{
			pa("shop", "default", t1, `{mtls: {mode: STRICT}}`),
			pa("shop", "other", t1, `{selector: {matchLabels: {app: other}}, mtls: {mode: DISABLE}}`)},
			cartHTTP, true, "PeerAuthentication shop/default STRICT", ""},
		{"port-level STRICT on the target port", []string{
			pa("shop", "default", t1, `{mtls: {mode: DISABLE}}`),
			pa("shop", "cart", t1, `{selector: {matchLabels: {app: cart}}, portLevelMtls: {8080: {mode: STRICT}}}`)},
			cartHTTP, true, "PeerAuthentication shop/cart port 8080 STRICT", ""},
		{"port-level DISABLE beats namespace STRICT", []string{
			pa("shop", "default", t1, `{mtls: {mode: STRICT}}`),
			pa("shop", "cart", t1, `{selector: {matchLabels: {app: cart}}, portLevelMtls: {8080: {mode: DISABLE}}}`)},
			cartHTTP, false, "PeerAuthentication shop/cart port 8080 DISABLE", ""},
		{"port-level on another port: workload UNSET inherits namespace", []string{
			pa("shop", "default", t1, `{mtls: {mode: STRICT}}`),
			pa("shop", "cart", t1, `{selector: {matchLabels: {app: cart}}, portLevelMtls: {9999: {mode: DISABLE}}}`)},
			cartHTTP, true, "PeerAuthentication shop/default STRICT", ""},
		{"port-level UNSET inherits the workload mode", []string{
			pa("shop", "default", t1, `{mtls: {mode: STRICT}}`),
			pa("shop", "cart", t1, `{selector: {matchLabels: {app: cart}}, mtls: {mode: DISABLE}, portLevelMtls: {8080: {mode: UNSET}}}`)},
			cartHTTP, false, "PeerAuthentication shop/cart DISABLE", ""},
		{"port-level keys are container ports, not service ports", []string{
			pa("shop", "cart", t1, `{selector: {matchLabels: {app: cart}}, mtls: {mode: STRICT}, portLevelMtls: {80: {mode: DISABLE}}}`)},
			cartHTTP, true, "PeerAuthentication shop/cart STRICT", ""},
		{"targetPort unset means the service port", []string{
			pa("shop", "cart", t1, `{selector: {matchLabels: {app: cart}}, portLevelMtls: {80: {mode: DISABLE}}}`)},
			Port{Name: "http", Port: 80}, false, "PeerAuthentication shop/cart port 80 DISABLE", ""},
		{"named targetPort: port-level not applied", []string{
			pa("shop", "cart", t1, `{selector: {matchLabels: {app: cart}}, mtls: {mode: STRICT}, portLevelMtls: {8080: {mode: DISABLE}}}`)},
			Port{Name: "http", Port: 80, TargetPort: "web"}, true, "PeerAuthentication shop/cart STRICT", diag.MeshConfigSimplified},
		{"oldest namespace-wide policy wins", []string{
			pa("shop", "b-newer", t2, `{mtls: {mode: DISABLE}}`),
			pa("shop", "z-older", t1, `{mtls: {mode: STRICT}}`)},
			cartHTTP, true, "PeerAuthentication shop/z-older STRICT", ""},
		{"oldest workload policy wins", []string{
			pa("shop", "a-newer", t2, `{selector: {matchLabels: {app: cart}}, mtls: {mode: DISABLE}}`),
			pa("shop", "b-older", t1, `{selector: {matchLabels: {version: v1}}, mtls: {mode: STRICT}}`)},
			cartHTTP, true, "PeerAuthentication shop/b-older STRICT", ""},
		{"selector policies in the root namespace are ignored", []string{
			pa("istio-system", "cart", t1, `{selector: {matchLabels: {app: cart}}, mtls: {mode: STRICT}}`)},
			cartHTTP, true, "auto mTLS", ""},
		{"empty selector is namespace-wide", []string{
			pa("shop", "all", t1, `{selector: {matchLabels: {}}, mtls: {mode: STRICT}}`)},
			cartHTTP, true, "PeerAuthentication shop/all STRICT", ""},
		{"other namespaces do not count", []string{
			pa("payments", "default", t1, `{mtls: {mode: DISABLE}}`)},
			cartHTTP, true, "auto mTLS", ""},
	}
	checkMTLS(t, tests, func(c *Config, port Port) EdgePolicy {
		svc := cartSvc
		svc.Ports = []Port{port}
		return c.Edge(frontend, cart, svc, port)
	})
}

func TestDestinationRuleTLS(t *testing.T) {
	strict := pa("shop", "default", t0, `{mtls: {mode: STRICT}}`)
	disabled := pa("shop", "default", t0, `{mtls: {mode: DISABLE}}`)
	other := Port{Name: "grpc", Port: 9090}
	tests := []mtlsCase{
		{"DISABLE by short host", []string{dr("shop", "cart", `{host: cart, trafficPolicy: {tls: {mode: DISABLE}}}`)},
			cartHTTP, false, "DestinationRule shop/cart DISABLE", ""},
		{"DISABLE by FQDN from the root namespace", []string{dr("istio-system", "cart", `{host: cart.shop.svc.cluster.local, trafficPolicy: {tls: {mode: DISABLE}}}`)},
			cartHTTP, false, "DestinationRule istio-system/cart DISABLE", ""},
		{"tls block without mode is DISABLE", []string{dr("shop", "cart", `{host: cart, trafficPolicy: {tls: {}}}`)},
			cartHTTP, false, "DestinationRule shop/cart DISABLE", ""},
		{"no tls keeps auto mTLS", []string{dr("shop", "cart", `{host: cart, trafficPolicy: {connectionPool: {tcp: {maxConnections: 10}}}}`)},
			cartHTTP, true, "auto mTLS", ""},
		{"short host resolves in the rule's namespace", []string{dr("payments", "cart", `{host: cart, trafficPolicy: {tls: {mode: DISABLE}}}`)},
			cartHTTP, true, "auto mTLS", ""},
		{"namespace wildcard", []string{dr("istio-system", "shop", `{host: "*.shop.svc.cluster.local", trafficPolicy: {tls: {mode: DISABLE}}}`)},
			cartHTTP, false, "DestinationRule istio-system/shop DISABLE", ""},
		{"exact host beats wildcard in the same namespace", []string{
			dr("shop", "all", `{host: "*", trafficPolicy: {tls: {mode: DISABLE}}}`),
			dr("shop", "cart", `{host: cart, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}`)},
			cartHTTP, true, "DestinationRule shop/cart ISTIO_MUTUAL", ""},
		{"client namespace beats service namespace", []string{
			dr("shop", "cart", `{host: cart, trafficPolicy: {tls: {mode: DISABLE}}}`),
			dr("web", "cart", `{host: cart.shop.svc.cluster.local, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}`)},
			cartHTTP, true, "DestinationRule web/cart ISTIO_MUTUAL", ""},
		{"oldest of equally specific rules wins", []string{
			strings.Replace(dr("shop", "a-newer", `{host: cart, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}`), "2024-01-01", "2024-05-01", 1),
			dr("shop", "z-older", `{host: cart, trafficPolicy: {tls: {mode: DISABLE}}}`)},
			cartHTTP, false, "DestinationRule shop/z-older DISABLE", ""},
		{"port-level DISABLE for the port", []string{dr("shop", "cart",
			`{host: cart, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}, portLevelSettings: [{port: {number: 80}, tls: {mode: DISABLE}}]}}`)},
			cartHTTP, false, "DestinationRule shop/cart port 80 DISABLE", ""},
		{"port-level for another port keeps the top level", []string{dr("shop", "cart",
			`{host: cart, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}, portLevelSettings: [{port: {number: 80}, tls: {mode: DISABLE}}]}}`)},
			other, true, "DestinationRule shop/cart ISTIO_MUTUAL", ""},
		{"port-level without tls keeps the top level", []string{dr("shop", "cart",
			`{host: cart, trafficPolicy: {tls: {mode: DISABLE}, portLevelSettings: [{port: {number: 80}, connectionPool: {tcp: {maxConnections: 1}}}]}}`)},
			cartHTTP, false, "DestinationRule shop/cart DISABLE", ""},
		{"DISABLE towards STRICT conflicts", []string{strict, dr("shop", "cart", `{host: cart, trafficPolicy: {tls: {mode: DISABLE}}}`)},
			cartHTTP, false, "DestinationRule shop/cart DISABLE", diag.MTLSConflict},
		{"ISTIO_MUTUAL towards DISABLE conflicts", []string{disabled, dr("shop", "cart", `{host: cart, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}`)},
			cartHTTP, true, "DestinationRule shop/cart ISTIO_MUTUAL", diag.MTLSConflict},
		{"server DISABLE turns auto mTLS off", []string{disabled}, cartHTTP, false, "PeerAuthentication shop/default DISABLE", ""},
		{"SIMPLE is TLS origination, not mTLS", []string{dr("shop", "cart", `{host: cart, trafficPolicy: {tls: {mode: SIMPLE}}}`)},
			cartHTTP, false, "DestinationRule shop/cart SIMPLE: TLS originated by the client sidecar, not Istio mTLS", diag.MeshConfigSimplified},
		{"workloadSelector for another client is ignored", []string{dr("web", "cart",
			`{host: cart.shop.svc.cluster.local, workloadSelector: {matchLabels: {app: admin}}, trafficPolicy: {tls: {mode: DISABLE}}}`)},
			cartHTTP, true, "auto mTLS", ""},
		{"workloadSelector for this client wins", []string{
			dr("web", "all", `{host: "*", trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}`),
			dr("web", "mine", `{host: cart.shop.svc.cluster.local, workloadSelector: {matchLabels: {app: frontend}}, trafficPolicy: {tls: {mode: DISABLE}}}`)},
			cartHTTP, false, "DestinationRule web/mine DISABLE", ""},
	}
	client := frontend
	client.Namespace = "web"
	checkMTLS(t, tests, func(c *Config, port Port) EdgePolicy { return c.Edge(client, cart, cartSvc, port) })
}

func TestMTLSByDataPlane(t *testing.T) {
	strict := load(t, pa("shop", "default", t0, `{mtls: {mode: STRICT}}`))
	mutual := load(t, dr("shop", "cart", `{host: cart, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}`))
	tests := []struct {
		name           string
		c              *Config
		client, server dataplane.Mode
		wantMTLS       bool
		reason         string
		code           diag.Code
	}{
		{"unmeshed client to STRICT server is rejected", strict, dataplane.None, dataplane.Sidecar, false, "client not meshed", diag.MTLSImpossible},
		{"unmeshed client to STRICT ambient server is rejected", strict, dataplane.None, dataplane.Ambient, false, "client not meshed", diag.MTLSImpossible},
		{"unmeshed client to PERMISSIVE server", nil, dataplane.None, dataplane.Sidecar, false, "client not meshed", ""},
		{"sidecar to unmeshed server", strict, dataplane.Sidecar, dataplane.None, false, "server not meshed", ""},
		{"ISTIO_MUTUAL to unmeshed server fails", mutual, dataplane.Sidecar, dataplane.None, false, "DestinationRule shop/cart ISTIO_MUTUAL", diag.MTLSConflict},
		{"ambient both sides", nil, dataplane.Ambient, dataplane.Ambient, true, "ambient (HBONE)", ""},
		{"sidecar to waypoint", strict, dataplane.Sidecar, dataplane.Waypoint, true, "ambient (HBONE)", ""},
		{"ambient to sidecar", nil, dataplane.Ambient, dataplane.Sidecar, true, "ambient (HBONE)", ""},
		{"empty mode means sidecar", strict, "", "", true, "PeerAuthentication shop/default STRICT", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.c.Edge(withMode(frontend, tt.client), withMode(cart, tt.server), cartSvc, cartHTTP)
			if p.MTLS != tt.wantMTLS || p.MTLSReason != tt.reason {
				t.Errorf("MTLS = %v (%q), want %v (%q)", p.MTLS, p.MTLSReason, tt.wantMTLS, tt.reason)
			}
			if got := codes(p.Messages); (tt.code == "" && len(got) != 0) || (tt.code != "" && !slices.Contains(got, tt.code)) {
				t.Errorf("messages = %v, want code %q", p.Messages, tt.code)
			}
		})
	}
}
