package mesh

import (
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
	extapi "istio.io/api/extensions/v1alpha1"
	netapi "istio.io/api/networking/v1alpha3"
	secapi "istio.io/api/security/v1beta1"
	telapi "istio.io/api/telemetry/v1alpha1"
	typeapi "istio.io/api/type/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// This file is the only one that reads Istio's API types. Every converter takes
// the spec by pointer and uses the generated getters, which are nil-safe, so odd
// resources (empty specs, nil list entries) never panic.

func metaOf(m *metav1.ObjectMeta) objMeta {
	return objMeta{namespace: m.Namespace, name: m.Name, created: m.CreationTimestamp.Time}
}

// labelsOf copies a selector; an empty one means "no selector", as in Istio.
func labelsOf(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// policyTargetOf is the target of a policy with object metadata m, a workload
// selector and targetRefs (one, the deprecated singular field, and many).
func policyTargetOf(m *metav1.ObjectMeta, selector map[string]string, one *typeapi.PolicyTargetReference, many []*typeapi.PolicyTargetReference) policyTarget {
	return policyTarget{objMeta: metaOf(m), selector: labelsOf(selector), targetRefs: targetRefsOf(m.Namespace, one, many)}
}

func targetRefsOf(ns string, one *typeapi.PolicyTargetReference, many []*typeapi.PolicyTargetReference) []targetRef {
	var out []targetRef
	for _, r := range append([]*typeapi.PolicyTargetReference{one}, many...) {
		if r == nil || r.GetName() == "" {
			continue
		}
		refNS := r.GetNamespace()
		if refNS == "" {
			refNS = ns
		}
		out = append(out, targetRef{kind: r.GetKind(), namespace: refNS, name: r.GetName()})
	}
	return out
}

// Istio's TLS settings in the model's terms: PeerAuthentication modes (UNSET
// is mtlsUnset: inherit) and DestinationRule modes other than DISABLE.
var (
	mtlsModes = map[secapi.PeerAuthentication_MutualTLS_Mode]mtlsMode{
		secapi.PeerAuthentication_MutualTLS_DISABLE:    mtlsDisable,
		secapi.PeerAuthentication_MutualTLS_PERMISSIVE: mtlsPermissive,
		secapi.PeerAuthentication_MutualTLS_STRICT:     mtlsStrict,
	}
	tlsModes = map[netapi.ClientTLSSettings_TLSmode]tlsMode{
		netapi.ClientTLSSettings_SIMPLE:       tlsSimple,
		netapi.ClientTLSSettings_MUTUAL:       tlsMutual,
		netapi.ClientTLSSettings_ISTIO_MUTUAL: tlsIstioMutual,
	}
)

func mtlsOf(m *secapi.PeerAuthentication_MutualTLS) mtlsMode {
	if m == nil {
		return mtlsUnset
	}
	return mtlsModes[m.GetMode()]
}

func convertPeerAuth(m *metav1.ObjectMeta, s *secapi.PeerAuthentication) peerAuth {
	p := peerAuth{objMeta: metaOf(m), selector: labelsOf(s.GetSelector().GetMatchLabels()), mode: mtlsOf(s.GetMtls())}
	for port, mt := range s.GetPortLevelMtls() {
		if p.ports == nil {
			p.ports = map[uint32]mtlsMode{}
		}
		p.ports[port] = mtlsOf(mt)
	}
	return p
}

// tlsOf converts a DestinationRule TLS block. A block without a mode is
// DISABLE, the proto default, as in Istio.
func tlsOf(t *netapi.ClientTLSSettings) tlsMode {
	if t == nil {
		return tlsUnset
	}
	if m, ok := tlsModes[t.GetMode()]; ok {
		return m
	}
	return tlsDisable
}

func convertDestRule(m *metav1.ObjectMeta, s *netapi.DestinationRule) destRule {
	d := destRule{
		objMeta:  metaOf(m),
		exportTo: s.GetExportTo(),
		host:     resolveHost(s.GetHost(), m.Namespace),
		selector: labelsOf(s.GetWorkloadSelector().GetMatchLabels()),
		tls:      tlsOf(s.GetTrafficPolicy().GetTls()),
	}
	for _, pl := range s.GetTrafficPolicy().GetPortLevelSettings() {
		if pl.GetTls() == nil || pl.GetPort().GetNumber() == 0 {
			continue
		}
		if d.portTLS == nil {
			d.portTLS = map[uint32]tlsMode{}
		}
		d.portTLS[pl.GetPort().GetNumber()] = tlsOf(pl.GetTls())
	}
	for _, sub := range s.GetSubsets() {
		if sub.GetName() == "" {
			continue
		}
		if d.subsets == nil {
			d.subsets = map[string]map[string]string{}
		}
		d.subsets[sub.GetName()] = labelsOf(sub.GetLabels())
	}
	return d
}

func percentOr(p *netapi.Percent, def float64) float64 {
	if p == nil {
		return def
	}
	return p.GetValue()
}

func convertVirtualService(m *metav1.ObjectMeta, s *netapi.VirtualService) virtualService {
	ns := m.Namespace
	v := virtualService{objMeta: metaOf(m), gateways: s.GetGateways(), exportTo: s.GetExportTo()}
	for _, h := range s.GetHosts() {
		if h = resolveHost(h, ns); h != "" {
			v.hosts = append(v.hosts, h)
		}
	}
	for _, r := range s.GetHttp() {
		if r == nil {
			continue
		}
		hr := httpRoute{name: r.GetName(), timeout: r.GetTimeout().AsDuration(),
			matches: matchesOf(r.GetMatch()), dests: destsOf(r.GetRoute(), ns)}
		if r.GetRetries() != nil {
			attempts := r.GetRetries().GetAttempts()
			hr.retries = &attempts
		}
		if r.GetMirror() != nil {
			pct := percentOr(r.GetMirrorPercentage(), 100)
			if r.GetMirrorPercentage() == nil && r.GetMirrorPercent() != nil {
				pct = float64(r.GetMirrorPercent().GetValue())
			}
			hr.mirrorPercent += pct
		}
		for _, mp := range r.GetMirrors() {
			if mp.GetDestination() != nil {
				hr.mirrorPercent += percentOr(mp.GetPercentage(), 100)
			}
		}
		if d := r.GetFault().GetDelay(); d.GetFixedDelay() != nil {
			hr.faultDelay = d.GetFixedDelay().AsDuration()
			switch {
			case d.GetPercentage() != nil:
				hr.faultPercent = d.GetPercentage().GetValue()
			case d.GetPercent() != 0:
				hr.faultPercent = float64(d.GetPercent())
			default:
				hr.faultPercent = 100
			}
		}
		switch {
		case r.GetRedirect() != nil:
			hr.terminal = "redirect"
		case r.GetDirectResponse() != nil:
			hr.terminal = "direct response"
		case r.GetDelegate() != nil:
			hr.terminal = "delegate"
		}
		v.http = append(v.http, hr)
	}
	for _, r := range s.GetTcp() {
		v.l4 = append(v.l4, l4Route{matches: matchesOf(r.GetMatch()), dests: destsOf(r.GetRoute(), ns)})
	}
	for _, r := range s.GetTls() {
		v.l4 = append(v.l4, l4Route{matches: matchesOf(r.GetMatch()), dests: destsOf(r.GetRoute(), ns)})
	}
	return v
}

// routeMatcher is what HTTP, TCP and TLS route matches share.
type routeMatcher interface {
	comparable
	GetPort() uint32
	GetSourceLabels() map[string]string
	GetSourceNamespace() string
	GetGateways() []string
}

// matchesOf converts a route's matches, leaving out nil ones.
func matchesOf[M routeMatcher](ms []M) []routeMatch {
	var none M
	var out []routeMatch
	for _, m := range ms {
		if m != none {
			out = append(out, routeMatch{port: m.GetPort(), sourceLabels: labelsOf(m.GetSourceLabels()),
				sourceNamespace: m.GetSourceNamespace(), gateways: m.GetGateways()})
		}
	}
	return out
}

// destsOf converts a route's destinations (hosts resolved in namespace ns),
// leaving out those without a host.
func destsOf[D interface{ GetDestination() *netapi.Destination }](ds []D, ns string) []routeDest {
	var out []routeDest
	for _, rd := range ds {
		if d := rd.GetDestination(); d.GetHost() != "" {
			out = append(out, routeDest{host: resolveHost(d.GetHost(), ns), subset: d.GetSubset()})
		}
	}
	return out
}

func convertSidecar(m *metav1.ObjectMeta, s *netapi.Sidecar) sidecarScope {
	sc := sidecarScope{objMeta: metaOf(m), selector: labelsOf(s.GetWorkloadSelector().GetLabels())}
	for _, e := range s.GetEgress() {
		if e == nil {
			continue
		}
		sc.egress = append(sc.egress, egressListener{port: e.GetPort().GetNumber(), hosts: e.GetHosts()})
	}
	if otp := s.GetOutboundTrafficPolicy(); otp != nil {
		sc.outbound = otp.GetMode().String()
	}
	return sc
}

func convertTelemetry(m *metav1.ObjectMeta, s *telapi.Telemetry) telemetry {
	t := telemetry{policyTarget: policyTargetOf(m, s.GetSelector().GetMatchLabels(), s.GetTargetRef(), s.GetTargetRefs())}
	// Only the server side matters: the model costs telemetry at the server's proxy.
	serverSide := func(mode telapi.WorkloadMode) bool { return mode != telapi.WorkloadMode_CLIENT }
	for _, tr := range s.GetTracing() {
		if tr == nil || !serverSide(tr.GetMatch().GetMode()) {
			continue
		}
		if tr.GetRandomSamplingPercentage() != nil {
			v := tr.GetRandomSamplingPercentage().GetValue()
			t.sampling = &v
		}
		if tr.GetDisableSpanReporting().GetValue() {
			zero := 0.0
			t.sampling = &zero
		}
	}
	for _, al := range s.GetAccessLogging() {
		if al == nil || !serverSide(al.GetMatch().GetMode()) {
			continue
		}
		switch {
		case al.GetDisabled() != nil:
			on := !al.GetDisabled().GetValue()
			t.accessLog = &on
		case len(al.GetProviders()) > 0:
			on := true
			t.accessLog = &on
		}
	}
	for _, mt := range s.GetMetrics() {
		for _, o := range mt.GetOverrides() {
			if o.GetDisabled() == nil || !serverSide(o.GetMatch().GetMode()) {
				continue
			}
			// Only a switch of all metrics changes the cost; single metrics do not.
			if o.GetMatch().GetCustomMetric() != "" || o.GetMatch().GetMetric() != telapi.MetricSelector_ALL_METRICS {
				continue
			}
			on := !o.GetDisabled().GetValue()
			t.metrics = &on
		}
	}
	return t
}

func convertWasmPlugin(m *metav1.ObjectMeta, s *extapi.WasmPlugin) extension {
	e := extension{
		policyTarget: policyTargetOf(m, s.GetSelector().GetMatchLabels(), s.GetTargetRef(), s.GetTargetRefs()),
		kind:         "wasm",
		http:         s.GetType() != extapi.PluginType_NETWORK,
	}
	if len(s.GetMatch()) == 0 {
		e.sidecarInbound = true
	}
	anyPort := false
	for _, ts := range s.GetMatch() {
		if ts.GetMode() == typeapi.WorkloadMode_CLIENT {
			continue
		}
		e.sidecarInbound = true
		n := len(e.ports)
		for _, p := range ts.GetPorts() {
			if p.GetNumber() != 0 {
				e.ports = append(e.ports, p.GetNumber())
			}
		}
		anyPort = anyPort || len(e.ports) == n
	}
	if anyPort {
		e.ports = nil
	}
	// A waypoint is the server side of the calls it serves, like an inbound sidecar.
	e.waypoint = e.sidecarInbound
	return e
}

func convertEnvoyFilter(m *metav1.ObjectMeta, s *netapi.EnvoyFilter) extension {
	e := extension{
		policyTarget: policyTargetOf(m, s.GetWorkloadSelector().GetLabels(), nil, s.GetTargetRefs()),
		kind:         "envoyfilter",
	}
	for _, p := range s.GetConfigPatches() {
		if p == nil {
			continue
		}
		switch p.GetMatch().GetContext() {
		case netapi.EnvoyFilter_ANY:
			e.sidecarInbound, e.waypoint = true, true
		case netapi.EnvoyFilter_SIDECAR_INBOUND:
			e.sidecarInbound = true
		case netapi.EnvoyFilter_WAYPOINT:
			e.waypoint = true
		default:
			continue // outbound and gateway patches do not touch the server's inbound
		}
		switch p.GetApplyTo() {
		case netapi.EnvoyFilter_HTTP_FILTER, netapi.EnvoyFilter_HTTP_ROUTE, netapi.EnvoyFilter_ROUTE_CONFIGURATION,
			netapi.EnvoyFilter_VIRTUAL_HOST:
			e.http = true
		}
		switch kind := filterKindOf(p.GetPatch().GetValue()); {
		case kind == "lua":
			e.kind, e.http = "lua", true
		case kind == "wasm" && e.kind != "lua":
			e.kind = "wasm"
		}
	}
	return e
}

// filterKindOf looks for the Lua or Wasm HTTP filter in a patch value, by the
// filter's name or its typed_config @type.
func filterKindOf(v *structpb.Struct) string {
	kind := ""
	var walk func(*structpb.Value)
	walk = func(x *structpb.Value) {
		switch {
		case x.GetStructValue() != nil:
			for _, f := range x.GetStructValue().GetFields() {
				walk(f)
			}
		case x.GetListValue() != nil:
			for _, f := range x.GetListValue().GetValues() {
				walk(f)
			}
		default:
			s := strings.ToLower(x.GetStringValue())
			switch {
			case s == "envoy.lua" || strings.Contains(s, "filters.http.lua"):
				kind = "lua"
			case kind == "" && (s == "envoy.wasm" || strings.Contains(s, "filters.http.wasm")):
				kind = "wasm"
			}
		}
	}
	if v != nil {
		walk(structpb.NewStructValue(v))
	}
	return kind
}

func convertAuthorizationPolicy(m *metav1.ObjectMeta, s *secapi.AuthorizationPolicy) authzPolicy {
	a := authzPolicy{
		policyTarget: policyTargetOf(m, s.GetSelector().GetMatchLabels(), s.GetTargetRef(), s.GetTargetRefs()),
		allow:        s.GetAction() == secapi.AuthorizationPolicy_ALLOW,
	}
	for _, r := range s.GetRules() {
		for _, f := range r.GetFrom() {
			src := f.GetSource()
			if src == nil {
				continue
			}
			a.sources = append(a.sources, authzSource{
				principals:      src.GetPrincipals(),
				namespaces:      src.GetNamespaces(),
				serviceAccounts: src.GetServiceAccounts(),
			})
		}
	}
	return a
}
