package mesh

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

func TestVirtualServiceRouting(t *testing.T) {
	type want struct {
		retries        *callgraph.Retries
		retriesReason  string
		mirror         float64
		delay          time.Duration
		delayPercent   float64
		timeout        time.Duration
		code           diag.Code
		messageContain string
	}
	defaultRetries := &callgraph.Retries{Attempts: 2}
	tests := []struct {
		name           string
		resources      []string
		client, server dataplane.Mode
		port           Port
		want           want
	}{
		{"no VirtualService: Istio's default retries", nil, dataplane.Sidecar, dataplane.Sidecar, cartHTTP,
			want{retries: defaultRetries, retriesReason: "Istio default retry policy"}},
		{"retries, mirror, fault and timeout", []string{vs("shop", "cart", t0, `
  hosts: [cart]
  http:
  - route: [{destination: {host: cart}}]
    retries: {attempts: 5, perTryTimeout: 1s}
    mirror: {host: cart-shadow}
    mirrorPercentage: {value: 20}
    fault: {delay: {fixedDelay: 2s, percentage: {value: 10}}}
    timeout: 3s`)}, dataplane.Sidecar, dataplane.Sidecar, cartHTTP,
			want{retries: &callgraph.Retries{Attempts: 5}, retriesReason: "VirtualService shop/cart", mirror: 20, delay: 2 * time.Second, delayPercent: 10, timeout: 3 * time.Second}},
		{"mirror without percentage is 100%, route without retries gets the default", []string{vs("shop", "cart", t0, `
  hosts: [cart.shop.svc.cluster.local]
  http:
  - route: [{destination: {host: cart}}]
    mirror: {host: cart-shadow}`)}, dataplane.Sidecar, dataplane.Sidecar, cartHTTP,
			want{retries: defaultRetries, retriesReason: "Istio default retry policy", mirror: 100}},
		{"mirrors list and deprecated fault percent", []string{vs("shop", "cart", t0, `
  hosts: [cart]
  http:
  - route: [{destination: {host: cart}}]
    mirrors: [{destination: {host: a}, percentage: {value: 5}}, {destination: {host: b}, percentage: {value: 7.5}}]
    fault: {delay: {fixedDelay: 100ms, percent: 30}}`)}, dataplane.Sidecar, dataplane.Sidecar, cartHTTP,
			want{retries: defaultRetries, retriesReason: "Istio default retry policy", mirror: 12.5, delay: 100 * time.Millisecond, delayPercent: 30}},
		{"attempts 0 disables retries", []string{vs("shop", "cart", t0, `
  hosts: [cart]
  http: [{route: [{destination: {host: cart}}], retries: {attempts: 0}}]`)}, dataplane.Sidecar, dataplane.Sidecar, cartHTTP,
			want{retries: &callgraph.Retries{Attempts: 0}, retriesReason: "VirtualService shop/cart"}},
		{"first of several routes, with a note", []string{vs("shop", "cart", t0, `
  hosts: [cart]
  http:
  - name: api
    match: [{uri: {prefix: /api}}]
    route: [{destination: {host: cart}}]
    retries: {attempts: 4}
  - route: [{destination: {host: cart}}]
    retries: {attempts: 1}`)}, dataplane.Sidecar, dataplane.Sidecar, cartHTTP,
			want{retries: &callgraph.Retries{Attempts: 4}, retriesReason: "VirtualService shop/cart", code: diag.MeshConfigSimplified, messageContain: "the first, api, was used"}},
		{"routes for other clients and ports are skipped", []string{vs("shop", "cart", t0, `
  hosts: [cart]
  http:
  - match: [{sourceLabels: {app: admin}}]
    route: [{destination: {host: cart}}]
    retries: {attempts: 9}
  - match: [{port: 9090}]
    route: [{destination: {host: cart}}]
    retries: {attempts: 8}
  - match: [{sourceLabels: {app: frontend}, port: 80}]
    route: [{destination: {host: cart}}]
    retries: {attempts: 3}`)}, dataplane.Sidecar, dataplane.Sidecar, cartHTTP,
			want{retries: &callgraph.Retries{Attempts: 3}, retriesReason: "VirtualService shop/cart"}},
		{"gateway-only VirtualService does not apply", []string{vs("shop", "cart", t0, `
  hosts: [cart]
  gateways: [istio-system/ingress]
  http: [{route: [{destination: {host: cart}}], retries: {attempts: 7}}]`)}, dataplane.Sidecar, dataplane.Sidecar, cartHTTP,
			want{retries: defaultRetries, retriesReason: "Istio default retry policy"}},
		{"mesh among gateways applies", []string{vs("shop", "cart", t0, `
  hosts: [cart]
  gateways: [istio-system/ingress, mesh]
  http: [{route: [{destination: {host: cart}}], retries: {attempts: 7}}]`)}, dataplane.Sidecar, dataplane.Sidecar, cartHTTP,
			want{retries: &callgraph.Retries{Attempts: 7}, retriesReason: "VirtualService shop/cart"}},
		{"other host", []string{vs("shop", "other", t0, `
  hosts: [other]
  http: [{route: [{destination: {host: other}}], retries: {attempts: 7}}]`)}, dataplane.Sidecar, dataplane.Sidecar, cartHTTP,
			want{retries: defaultRetries, retriesReason: "Istio default retry policy"}},
		{"client namespace first, then the oldest", []string{
			vs("shop", "a-old", t0, `{hosts: [cart], http: [{route: [{destination: {host: cart}}], retries: {attempts: 1}}]}`),
			vs("shop", "b-new", "2024-02-01T00:00:00Z", `{hosts: [cart], http: [{route: [{destination: {host: cart}}], retries: {attempts: 2}}]}`),
			vs("web", "mine", "2024-03-01T00:00:00Z", `{hosts: [cart.shop.svc.cluster.local], http: [{route: [{destination: {host: cart.shop.svc.cluster.local}}], retries: {attempts: 6}}]}`),
		}, dataplane.Sidecar, dataplane.Sidecar, cartHTTP,
			want{retries: &callgraph.Retries{Attempts: 6}, retriesReason: "VirtualService web/mine", code: diag.MeshConfigSimplified, messageContain: "2 more VirtualServices"}},
		{"tcp port: no L7 routing", []string{vs("shop", "cart", t0, `{hosts: [cart], http: [{route: [{destination: {host: cart}}], retries: {attempts: 5}}]}`)},
			dataplane.Sidecar, dataplane.Sidecar, Port{Name: "tcp-db", Port: 5432}, want{}},
		{"ambient without waypoint: no L7 proxy routes", []string{vs("shop", "cart", t0, `{hosts: [cart], http: [{route: [{destination: {host: cart}}], retries: {attempts: 5}}]}`)},
			dataplane.Ambient, dataplane.Ambient, cartHTTP, want{}},
		{"unmeshed client: no L7 proxy routes", nil, dataplane.None, dataplane.Sidecar, cartHTTP, want{}},
		{"the waypoint routes for an ambient client", []string{vs("shop", "cart", t0, `{hosts: [cart], http: [{route: [{destination: {host: cart}}], retries: {attempts: 5}}]}`)},
			dataplane.Ambient, dataplane.Waypoint, cartHTTP, want{retries: &callgraph.Retries{Attempts: 5}, retriesReason: "VirtualService shop/cart"}},
		{"direct response never reaches the server", []string{vs("shop", "cart", t0, `{hosts: [cart], http: [{directResponse: {status: 503}}]}`)},
			dataplane.Sidecar, dataplane.Sidecar, cartHTTP,
			want{retries: defaultRetries, retriesReason: "Istio default retry policy", code: diag.MeshConfigSimplified, messageContain: "never reach"}},
	}
	client := frontend
	client.Namespace = "web"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := load(t, strings.Join(tt.resources, "\n---\n"))
			p := c.Edge(withMode(client, tt.client), withMode(cart, tt.server), cartSvc, tt.port)
			got := want{retries: p.Retries, retriesReason: p.RetriesReason, mirror: p.MirrorPercent, delay: p.FaultDelay,
				delayPercent: p.FaultDelayPercent, timeout: p.Timeout}
			w := tt.want
			w.code, w.messageContain = "", ""
			if !reflect.DeepEqual(got, w) {
				t.Errorf("got %+v (retries %v), want %+v (retries %v)", got, got.retries, w, w.retries)
			}
			if tt.want.code == "" {
				if len(p.Messages) != 0 {
					t.Errorf("unexpected messages %v", p.Messages)
				}
				return
			}
			found := false
			for _, m := range p.Messages {
				found = found || (m.Code == tt.want.code && strings.Contains(m.Message, tt.want.messageContain))
			}
			if !found {
				t.Errorf("messages = %v, want %s containing %q", p.Messages, tt.want.code, tt.want.messageContain)
			}
		})
	}
}

func telemetryYAML(ns, name, spec string) string {
	return manifest("telemetry.istio.io/v1", "Telemetry", ns, name, t0, spec)
}

func TestTelemetryPrecedence(t *testing.T) {
	c := load(t, strings.Join([]string{
		telemetryYAML("istio-system", "mesh-default", `{tracing: [{randomSamplingPercentage: 1}], accessLogging: [{providers: [{name: envoy}]}]}`),
		telemetryYAML("shop", "namespace", `{tracing: [{randomSamplingPercentage: 10}], metrics: [{overrides: [{disabled: true}]}]}`),
		telemetryYAML("shop", "cart", `{selector: {matchLabels: {app: cart}}, tracing: [{randomSamplingPercentage: 50}], accessLogging: [{disabled: true}]}`),
		telemetryYAML("shop", "client-only", `{selector: {matchLabels: {app: frontend}}, tracing: [{match: {mode: CLIENT}, randomSamplingPercentage: 99}]}`),
		telemetryYAML("shop", "single-metric", `{selector: {matchLabels: {app: frontend}}, metrics: [{overrides: [{match: {metric: REQUEST_COUNT}, disabled: false}]}]}`),
	}, "\n---\n"))
	payments := Workload{Namespace: "payments", Name: "pay", Labels: map[string]string{"app": "pay"}}
	paySvc := Service{Namespace: "payments", Name: "pay"}
	tests := []struct {
		name      string
		server    Workload
		svc       Service
		port      Port
		sampling  *float64
		accessLog bool
		metrics   bool
	}{
		{"workload over namespace over mesh", cart, cartSvc, cartHTTP, ptr(50.0), false, false},
		{"namespace over mesh; client-side settings ignored", frontend, Service{Namespace: "shop", Name: "frontend"}, cartHTTP, ptr(10.0), true, false},
		{"mesh-wide only", payments, paySvc, cartHTTP, ptr(1.0), true, true},
		{"no tracing on tcp", payments, paySvc, Port{Name: "tcp", Port: 9000}, nil, true, true},
		{"no tracing at ztunnel", withMode(payments, dataplane.Ambient), paySvc, cartHTTP, nil, true, true},
		{"unmeshed server: nothing", withMode(payments, dataplane.None), paySvc, cartHTTP, nil, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := c.Edge(frontend, tt.server, tt.svc, tt.port)
			if !reflect.DeepEqual(p.TracingSamplingPercent, tt.sampling) || p.AccessLogging != tt.accessLog || p.MetricsEnabled != tt.metrics {
				t.Errorf("sampling %v, access log %v, metrics %v; want %v, %v, %v",
					deref(p.TracingSamplingPercent), p.AccessLogging, p.MetricsEnabled, deref(tt.sampling), tt.accessLog, tt.metrics)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestFilters(t *testing.T) {
	wasm := func(ns, name, spec string) string {
		return `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {namespace: ` + ns + `, name: ` + name + `}
spec: ` + spec
	}
	envoyFilter := func(ns, name, spec string) string {
		return `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {namespace: ` + ns + `, name: ` + name + `}
spec: ` + spec
	}
	lua := `
  workloadSelector: {labels: {app: cart}}
  configPatches:
  - applyTo: HTTP_FILTER
    match: {context: SIDECAR_INBOUND, listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager}}}}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.lua
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
          inlineCode: "function envoy_on_request(h) end"`
	c := load(t, strings.Join([]string{
		wasm("shop", "authz", `{selector: {matchLabels: {app: cart}}, url: "oci://example.com/authz:1"}`),
		wasm("istio-system", "mesh-stats", `{url: "oci://example.com/stats:1"}`),
		wasm("shop", "outbound-only", `{url: "oci://x", match: [{mode: CLIENT}]}`),
		wasm("shop", "other-port", `{url: "oci://x", match: [{mode: SERVER, ports: [{number: 9999}]}]}`),
		wasm("shop", "l4", `{url: "oci://x", type: NETWORK, selector: {matchLabels: {app: cart}}}`),
		wasm("payments", "elsewhere", `{url: "oci://x"}`),
		wasm("shop", "waypoint-only", `{url: "oci://x", targetRefs: [{kind: Service, group: "", name: cart}]}`),
		envoyFilter("shop", "add-header", lua),
		envoyFilter("shop", "outbound", `{configPatches: [{applyTo: CLUSTER, match: {context: SIDECAR_OUTBOUND}, patch: {operation: MERGE, value: {connect_timeout: 1s}}}]}`),
		envoyFilter("istio-system", "buffer", `{configPatches: [{applyTo: HTTP_FILTER, match: {context: ANY}, patch: {operation: INSERT_BEFORE, value: {name: envoy.filters.http.buffer}}}]}`),
		envoyFilter("istio-system", "gateway-only", `{configPatches: [{applyTo: HTTP_FILTER, match: {context: GATEWAY}, patch: {operation: INSERT_BEFORE, value: {name: x}}}]}`),
		envoyFilter("shop", "empty", `{}`),
	}, "\n---\n"))
	tests := []struct {
		name   string
		server Workload
		port   Port
		want   []string
	}{
		{"sidecar server, http", cart, cartHTTP,
			[]string{"envoyfilter:buffer", "lua:add-header", "wasm:authz", "wasm:l4", "wasm:mesh-stats"}},
		{"tcp keeps network filters only", cart, Port{Name: "tcp", Port: 9000},
			[]string{"wasm:l4"}},
		{"selector picks another workload", frontend, cartHTTP,
			[]string{"envoyfilter:buffer", "wasm:mesh-stats"}},
		{"ambient server has no L7 proxy", withMode(cart, dataplane.Ambient), cartHTTP, nil},
		{"waypoint: targetRefs and namespace-wide ones", withMode(cart, dataplane.Waypoint), cartHTTP,
			[]string{"envoyfilter:buffer", "wasm:mesh-stats", "wasm:waypoint-only"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := c.Edge(frontend, tt.server, cartSvc, tt.port)
			if !slices.Equal(p.Filters, tt.want) {
				t.Errorf("Filters = %v, want %v", p.Filters, tt.want)
			}
		})
	}
	if got := FilterKind("lua:add-header"); got != "lua" {
		t.Errorf("FilterKind = %q", got)
	}
}

func TestSidecarEgress(t *testing.T) {
	sidecar := func(ns, name, spec string) string {
		return manifest("networking.istio.io/v1", "Sidecar", ns, name, t0, spec)
	}
	orders := Service{Namespace: "orders", Name: "orders", Ports: []Port{cartHTTP}}
	orderWorkload := Workload{Namespace: "orders", Name: "orders", Labels: map[string]string{"app": "orders"}}
	tests := []struct {
		name      string
		resources []string
		client    Workload
		svc       Service
		allowed   bool
		contains  string
	}{
		{"no Sidecar", nil, frontend, orders, true, ""},
		{"same namespace only", []string{sidecar("shop", "default", `{egress: [{hosts: ["./*", "istio-system/*"]}]}`)}, frontend, cartSvc, true, ""},
		{"other namespace outside scope", []string{sidecar("shop", "default", `{egress: [{hosts: ["./*", "istio-system/*"]}]}`)}, frontend, orders, false,
			`Sidecar shop/default does not import orders.orders.svc.cluster.local (egress hosts [./* istio-system/*])`},
		{"REGISTRY_ONLY blocks", []string{sidecar("shop", "default", `{egress: [{hosts: ["./*"]}], outboundTrafficPolicy: {mode: REGISTRY_ONLY}}`)}, frontend, orders, false, "BlackHoleCluster"},
		{"named namespace and exact host", []string{sidecar("shop", "default", `{egress: [{hosts: ["orders/orders.orders.svc.cluster.local"]}]}`)}, frontend, orders, true, ""},
		{"any namespace wildcard host", []string{sidecar("shop", "default", `{egress: [{hosts: ["*/*.orders.svc.cluster.local"]}]}`)}, frontend, orders, true, ""},
		{"~ imports nothing", []string{sidecar("shop", "default", `{egress: [{hosts: ["~/*"]}]}`)}, frontend, cartSvc, false, "PassthroughCluster"},
		{"listener for another port", []string{sidecar("shop", "default", `{egress: [{port: {number: 9090, protocol: HTTP, name: h}, hosts: ["*/*"]}]}`)}, frontend, orders, false, ""},
		{"workload Sidecar beats namespace default", []string{
			sidecar("shop", "default", `{egress: [{hosts: ["./*"]}]}`),
			sidecar("shop", "frontend", `{workloadSelector: {labels: {app: frontend}}, egress: [{hosts: ["orders/*"]}]}`)}, frontend, orders, true, ""},
		{"root namespace default", []string{sidecar("istio-system", "default", `{egress: [{hosts: ["./*"]}]}`)}, frontend, orders, false, "Sidecar istio-system/default"},
		{"namespace default beats root default", []string{
			sidecar("istio-system", "default", `{egress: [{hosts: ["./*"]}]}`),
			sidecar("shop", "default", `{egress: [{hosts: ["*/*"]}]}`)}, frontend, orders, true, ""},
		{"ingress-only Sidecar keeps everything", []string{sidecar("shop", "default", `{ingress: [{port: {number: 80, protocol: HTTP, name: h}, defaultEndpoint: "127.0.0.1:8080"}]}`)}, frontend, orders, true, ""},
		{"ambient clients ignore Sidecar", []string{sidecar("shop", "default", `{egress: [{hosts: ["./*"]}]}`)}, withMode(frontend, dataplane.Ambient), orders, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := load(t, strings.Join(tt.resources, "\n---\n"))
			p := c.Edge(tt.client, orderWorkload, tt.svc, cartHTTP)
			if p.EgressAllowed != tt.allowed {
				t.Fatalf("EgressAllowed = %v, want %v (messages %v)", p.EgressAllowed, tt.allowed, p.Messages)
			}
			if tt.allowed {
				if diag.Has(p.Messages, diag.OutsideEgressScope, "") {
					t.Errorf("unexpected %v", p.Messages)
				}
				return
			}
			found := false
			for _, m := range p.Messages {
				found = found || (m.Code == diag.OutsideEgressScope && m.Severity == diag.Warning && strings.Contains(m.Message, tt.contains))
			}
			if !found {
				t.Errorf("messages = %v, want %s containing %q", p.Messages, diag.OutsideEgressScope, tt.contains)
			}
		})
	}
}
