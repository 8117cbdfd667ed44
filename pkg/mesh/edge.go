package mesh

import (
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// DefaultRetryAttempts is the number of retries of Istio's default retry policy,
// used on every HTTP route without a VirtualService retry policy (on
// connect-failure, refused-stream, unavailable, cancelled and
// retriable-status-codes).
const DefaultRetryAttempts = 2

// edge holds what the rules for one edge look at.
type edge struct {
	c              *Config
	client, server Workload
	svc            Service
	port           Port
	host           string
	subject        string
	notes          *diag.List
}

// Edge works out what the mesh configuration does to calls from client to the
// port of svc, served by server: protocol, mTLS, retries, mirroring, fault
// injection, timeout, telemetry, server-side filters and Sidecar egress scope.
// Nothing here fails: odd or conflicting configuration is reported in
// EdgePolicy.Messages.
func (c *Config) Edge(client, server Workload, svc Service, port Port) EdgePolicy {
	c = c.orEmpty()
	var notes diag.List
	e := &edge{c: c, client: client, server: server, svc: svc, port: port, host: svc.Host(),
		subject: client.ID() + "->" + server.ID(), notes: &notes}
	p := EdgePolicy{EgressAllowed: true, MetricsEnabled: true}
	proto, src, msgs := c.Protocol(svc, port)
	notes.AddAll(msgs)
	p.Protocol, p.ProtocolSource = proto, src
	if !src.Proxied() {
		p.MTLSReason = "not proxied"
		p.Messages = notes.Sorted()
		return p
	}
	e.mtls(&p)
	if client.mode() == dataplane.Sidecar {
		e.egress(&p)
	}
	if router := e.router(); router != "" && proto.L7() {
		e.routing(&p, router)
	}
	e.telemetry(&p)
	e.filters(&p)
	p.Messages = notes.Sorted()
	return p
}

// router names the L7 proxy that routes the call, applying VirtualServices: the
// client's sidecar, or else the server's waypoint.
func (e *edge) router() string {
	switch {
	case e.client.mode() == dataplane.Sidecar:
		return "client sidecar"
	case e.client.mode().Meshed() && e.server.mode() == dataplane.Waypoint:
		return "waypoint"
	}
	return ""
}

// serverL7 reports whether an L7 proxy (sidecar or waypoint) receives the call
// for the server.
func (e *edge) serverL7() bool {
	switch e.server.mode() {
	case dataplane.Sidecar:
		return true
	case dataplane.Waypoint:
		return e.client.mode().Meshed()
	}
	return false
}

func isAmbient(m dataplane.Mode) bool {
	return m == dataplane.Ambient || m == dataplane.Waypoint
}

// mtls decides whether the call is mutual TLS, from the client's DestinationRule
// (or auto mTLS) and the server's PeerAuthentication.
func (e *edge) mtls(p *EdgePolicy) {
	cm, sm := e.client.mode(), e.server.mode()
	serverMode, serverSrc := e.c.serverMTLS(e.server, e.port, e.notes)
	strictBy := func() string { return serverSrc + " STRICT" }
	switch {
	case !cm.Meshed():
		p.MTLS, p.MTLSReason = false, "client not meshed"
		if sm.Meshed() && serverMode == mtlsStrict {
			e.notes.Add(diag.New(diag.MTLSImpossible, e.subject,
				"%s has no proxy and sends plaintext, but %s requires mTLS for %s: the call is rejected",
				e.client.ID(), strictBy(), e.server.ID()))
		}
		return
	case !sm.Meshed():
		p.MTLS, p.MTLSReason = false, "server not meshed"
		if cm != dataplane.Sidecar {
			return
		}
		switch _, mode, src := e.c.clientTLS(e.client, e.svc, e.port); mode {
		case tlsIstioMutual:
			p.MTLSReason = src + " ISTIO_MUTUAL"
			e.notes.Add(diag.New(diag.MTLSConflict, e.subject,
				"%s sends Istio mTLS to %s, which has no proxy to accept it: the call fails", src, e.server.ID()))
		case tlsSimple, tlsMutual:
			p.MTLSReason = fmt.Sprintf("%s %s: TLS originated by the client sidecar, not Istio mTLS", src, mode)
		}
		return
	case isAmbient(cm) || isAmbient(sm):
		p.MTLS, p.MTLSReason = true, "ambient (HBONE)"
		return
	}

	// Both sides have sidecars.
	_, mode, src := e.c.clientTLS(e.client, e.svc, e.port)
	switch mode {
	case tlsUnset:
		switch serverMode {
		case mtlsDisable:
			p.MTLS, p.MTLSReason = false, serverSrc+" DISABLE"
		case mtlsStrict:
			p.MTLS, p.MTLSReason = true, strictBy()
		default:
			p.MTLS, p.MTLSReason = true, "auto mTLS"
		}
	case tlsDisable:
		p.MTLS, p.MTLSReason = false, src+" DISABLE"
		if serverMode == mtlsStrict {
			e.notes.Add(diag.New(diag.MTLSConflict, e.subject,
				"%s sends plaintext but %s requires mTLS: the call is rejected", src+" DISABLE", strictBy()))
		}
	case tlsIstioMutual:
		p.MTLS, p.MTLSReason = true, src+" ISTIO_MUTUAL"
		if serverMode == mtlsDisable {
			e.notes.Add(diag.New(diag.MTLSConflict, e.subject,
				"%s sends mTLS but %s DISABLE makes the server expect plaintext: the call fails", src+" ISTIO_MUTUAL", serverSrc))
		}
	case tlsSimple, tlsMutual:
		p.MTLS = false
		p.MTLSReason = fmt.Sprintf("%s %s: TLS originated by the client sidecar, not Istio mTLS", src, mode)
		e.notes.Add(diag.New(diag.MeshConfigSimplified, e.subject,
			"%s %s originates TLS in the client sidecar towards a meshed server; counted as plaintext (no Istio mTLS)", src, mode))
		if serverMode == mtlsStrict {
			e.notes.Add(diag.New(diag.MTLSConflict, e.subject,
				"%s %s does not send Istio mTLS but %s requires it: the call is rejected", src, mode, strictBy()))
		}
	}
}

// serverMTLS resolves the server's PeerAuthentication mode for a port, with
// Istio's precedence: port-level (of the workload policy) over workload selector
// over namespace-wide over mesh-wide (root namespace) over PERMISSIVE; UNSET
// inherits. Selector policies in the root namespace are ignored, as in Istio.
// source names the deciding resource ("" for the default).
func (c *Config) serverMTLS(server Workload, port Port, notes *diag.List) (mode mtlsMode, source string) {
	root := c.RootNamespace()
	var meshWide, nsWide, workload *peerAuth
	for i := range c.peerAuths { // oldest first: the first match is the one Istio uses
		pa := &c.peerAuths[i]
		switch {
		case pa.selector == nil && pa.namespace == root:
			if meshWide == nil {
				meshWide = pa
			}
		case pa.selector == nil && pa.namespace == server.Namespace:
			if nsWide == nil {
				nsWide = pa
			}
		case pa.selector != nil && pa.namespace == server.Namespace && pa.namespace != root &&
			labelsMatch(pa.selector, server.Labels):
			if workload == nil {
				workload = pa
			}
		}
	}
	mode = mtlsPermissive
	for _, pa := range []*peerAuth{meshWide, nsWide, workload} {
		if pa != nil && pa.mode != mtlsUnset {
			mode, source = pa.mode, subjectOf("PeerAuthentication", pa.objMeta)
		}
	}
	if workload == nil || len(workload.ports) == 0 {
		return mode, source
	}
	tp, ok := targetPort(port)
	if !ok {
		notes.Add(diag.New(diag.MeshConfigSimplified, server.ID(),
			"targetPort %q is a port name; the port-level mTLS of %s was not applied",
			port.TargetPort, subjectOf("PeerAuthentication", workload.objMeta)))
		return mode, source
	}
	if pm, found := workload.ports[tp]; found && pm != mtlsUnset {
		mode, source = pm, fmt.Sprintf("%s port %d", subjectOf("PeerAuthentication", workload.objMeta), tp)
	}
	return mode, source
}

// targetPort is the container port a Service port sends to, when it is numeric.
func targetPort(p Port) (uint32, bool) {
	if p.TargetPort == "" {
		return uint32(p.Port), p.Port > 0
	}
	n, err := strconv.ParseUint(p.TargetPort, 10, 32)
	return uint32(n), err == nil
}

// destinationRule finds the DestinationRule a client applies to a host, in
// Istio's order: the client's namespace (rules whose workloadSelector picks the
// client first), then the service's namespace, then the root namespace; within
// one, the most specific host wins, then the oldest.
func (c *Config) destinationRule(client Workload, host, svcNamespace string) *destRule {
	tiers := []tier{{client.Namespace, true}, {client.Namespace, false}, {svcNamespace, false}, {c.RootNamespace(), false}}
	for _, t := range tiers {
		best := mostSpecificRule(host, func(yield func(*destRule) bool) {
			for i := range c.destRules {
				if d := &c.destRules[i]; t.holds(d.namespace, d.selector, client) && exportedTo(d.exportTo, d.namespace, client.Namespace) && !yield(d) {
					return
				}
			}
		})
		if best != nil {
			return best
		}
	}
	return nil
}

// mostSpecificRule is the rule of rules whose host matches host most
// specifically, the first of equals; nil for none.
func mostSpecificRule(host string, rules iter.Seq[*destRule]) *destRule {
	var best *destRule
	bestScore := -1
	for d := range rules {
		if s := hostSpecificity(d.host, host); s > bestScore {
			best, bestScore = d, s
		}
	}
	return best
}

// clientTLS is the TLS mode the client's DestinationRule sets for a service port
// (port-level settings first), and the rule's name for reasons.
func (c *Config) clientTLS(client Workload, svc Service, port Port) (*destRule, tlsMode, string) {
	dr := c.destinationRule(client, svc.Host(), svc.Namespace)
	if dr == nil {
		return nil, tlsUnset, ""
	}
	src := subjectOf("DestinationRule", dr.objMeta)
	if m, ok := dr.portTLS[uint32(port.Port)]; ok {
		return dr, m, fmt.Sprintf("%s port %d", src, port.Port)
	}
	return dr, dr.tls, src
}

// virtualService finds the VirtualService that routes a host for proxies in
// namespace ns: those bound to the mesh gateway, the proxy's namespace first,
// then the most specific host, then the oldest. others counts further matches.
func (c *Config) virtualService(ns, host string) (vs *virtualService, others int) {
	bestTier, bestScore := 2, -1
	for i := range c.virtualServices {
		v := &c.virtualServices[i]
		if len(v.gateways) > 0 && !slices.Contains(v.gateways, "mesh") || !exportedTo(v.exportTo, v.namespace, ns) {
			continue
		}
		score := -1
		for _, h := range v.hosts {
			score = max(score, hostSpecificity(h, host))
		}
		if score < 0 {
			continue
		}
		tier := 1
		if v.namespace == ns {
			tier = 0
		}
		if vs != nil {
			others++
		}
		if tier < bestTier || (tier == bestTier && score > bestScore) {
			vs, bestTier, bestScore = v, tier, score
		}
	}
	return vs, others
}

// matchesCall reports whether any of a route's matches can apply to a call from
// client to port through the mesh gateway; no match means all calls.
func matchesCall(matches []routeMatch, client Workload, port Port) bool {
	if len(matches) == 0 {
		return true
	}
	for _, m := range matches {
		if (m.port == 0 || m.port == uint32(port.Port)) &&
			labelsMatch(m.sourceLabels, client.Labels) &&
			(m.sourceNamespace == "" || m.sourceNamespace == client.Namespace) &&
			(len(m.gateways) == 0 || slices.Contains(m.gateways, "mesh")) {
			return true
		}
	}
	return false
}

// routing applies the VirtualService of the host: the first HTTP route that can
// match the call sets retries, mirroring, fault delay and timeout. Without one,
// Istio's default retry policy applies.
func (e *edge) routing(p *EdgePolicy, router string) {
	p.Retries = &callgraph.Retries{Attempts: DefaultRetryAttempts}
	p.RetriesReason = "Istio default retry policy"
	ns := e.client.Namespace
	if router == "waypoint" {
		ns = e.server.Namespace
	}
	vs, others := e.c.virtualService(ns, e.host)
	if vs == nil {
		return
	}
	name := subjectOf("VirtualService", vs.objMeta)
	if others > 0 {
		e.notes.Add(diag.New(diag.MeshConfigSimplified, e.host,
			"%d more VirtualServices match %s; %s was used, like Istio does", others, e.host, name))
	}
	var routes []int
	for i, r := range vs.http {
		if matchesCall(r.matches, e.client, e.port) {
			routes = append(routes, i)
		}
	}
	if len(routes) == 0 {
		return
	}
	r := vs.http[routes[0]]
	routeName := r.name
	if routeName == "" {
		routeName = fmt.Sprintf("#%d", routes[0])
	}
	if len(routes) > 1 {
		e.notes.Add(diag.New(diag.MeshConfigSimplified, e.subject,
			"%s has %d HTTP routes that can match this call (by URI, headers, ...); the first, %s, was used",
			name, len(routes), routeName))
	}
	switch r.terminal {
	case "redirect", "direct response":
		e.notes.Add(diag.New(diag.MeshConfigSimplified, e.subject,
			"route %s of %s answers with a %s, so matching calls never reach %s", routeName, name, r.terminal, e.server.ID()))
	case "delegate":
		e.notes.Add(diag.New(diag.MeshConfigSimplified, e.subject,
			"route %s of %s delegates to another VirtualService, which is not followed", routeName, name))
	}
	if r.retries != nil {
		p.Retries = &callgraph.Retries{Attempts: int(min(max(*r.retries, 0), 100))}
		p.RetriesReason = name
	}
	if r.mirrorPercent > 0 {
		p.MirrorPercent = min(r.mirrorPercent, 100)
		if r.mirrorPercent > 100 {
			e.notes.Add(diag.New(diag.MeshConfigSimplified, e.subject,
				"%s mirrors %.0f%% of requests (several mirrors); counted as 100%%", name, r.mirrorPercent))
		}
	}
	if r.faultDelay > 0 && r.faultPercent > 0 {
		p.FaultDelay, p.FaultDelayPercent = r.faultDelay, min(r.faultPercent, 100)
	}
	p.Timeout = max(r.timeout, time.Duration(0))
}

// sidecarFor finds the Sidecar resource of a client: the oldest one whose
// workloadSelector picks it, else its namespace's default, else the root
// namespace's default.
func (c *Config) sidecarFor(client Workload) *sidecarScope {
	tiers := []tier{{client.Namespace, true}, {client.Namespace, false}, {c.RootNamespace(), false}}
	for _, t := range tiers {
		for i := range c.sidecars {
			if s := &c.sidecars[i]; t.holds(s.namespace, s.selector, client) {
				return s
			}
		}
	}
	return nil
}

// tier is one step of Istio's lookup of resources with an optional
// workloadSelector: those of namespace whose selector picks the client
// (selecting), or those of namespace without a selector.
type tier struct {
	namespace string
	selecting bool
}

// holds reports whether a resource of namespace ns with selector is in the
// tier for client.
func (t tier) holds(ns string, selector map[string]string, client Workload) bool {
	if ns != t.namespace {
		return false
	}
	if t.selecting {
		return selector != nil && labelsMatch(selector, client.Labels)
	}
	return selector == nil
}

// egressHostMatches reads a Sidecar egress host "namespace/dnsName": namespace
// "*" is any, "." the client's, "~" none; dnsName is "*", "*.suffix" or a host.
func egressHostMatches(h, clientNS string, svc Service) bool {
	return egressMatches(h, clientNS, svc.Namespace, svc.Name, svc.Host())
}

// egressMatches is egressHostMatches for any resource: one in namespace ns
// named name (a short dnsName matches it) with host name host (an FQDN).
func egressMatches(h, clientNS, ns, name, host string) bool {
	hostNS, dns, found := strings.Cut(strings.TrimSpace(h), "/")
	if !found {
		hostNS, dns = "*", hostNS
	}
	switch hostNS {
	case "*":
	case ".":
		if ns != clientNS {
			return false
		}
	case "~":
		return false
	default:
		if hostNS != ns {
			return false
		}
	}
	dns = strings.ToLower(dns)
	if !strings.Contains(dns, ".") && dns != "*" {
		return dns == name
	}
	return hostMatches(dns, host)
}

// egress checks that the client's Sidecar resource imports the service.
func (e *edge) egress(p *EdgePolicy) {
	sc := e.c.sidecarFor(e.client)
	if sc == nil || len(sc.egress) == 0 {
		return
	}
	var hosts []string
	for _, l := range sc.egress {
		if l.port != 0 && l.port != uint32(e.port.Port) {
			continue
		}
		for _, h := range l.hosts {
			if egressHostMatches(h, e.client.Namespace, e.svc) {
				return
			}
		}
		hosts = append(hosts, l.hosts...)
	}
	p.EgressAllowed = false
	var what string
	switch sc.outbound {
	case "REGISTRY_ONLY":
		what = "to the BlackHoleCluster (outboundTrafficPolicy REGISTRY_ONLY): the call fails"
	case "ALLOW_ANY":
		what = "through the PassthroughCluster as plain TCP, without mTLS or L7 features"
	default:
		what = "through the PassthroughCluster as plain TCP, without mTLS or L7 features (with the mesh default outboundTrafficPolicy ALLOW_ANY; REGISTRY_ONLY would block it)"
	}
	e.notes.Add(diag.New(diag.OutsideEgressScope, e.subject,
		"%s does not import %s (egress hosts %v): the client's sidecar sends the call %s",
		subjectOf("Sidecar", sc.objMeta), e.host, hosts, what))
}

// targets reports whether a policy (Telemetry, WasmPlugin, EnvoyFilter) attached
// by targetRefs applies to the server's waypoint or service.
func (e *edge) targets(refs []targetRef) bool {
	if e.server.mode() != dataplane.Waypoint {
		return false
	}
	for _, r := range refs {
		switch {
		case r.kind == "Service" && r.namespace == e.svc.Namespace && r.name == e.svc.Name:
			return true
		case r.kind == "Gateway" && r.namespace+"/"+r.name == e.server.Waypoint:
			return true
		}
	}
	return false
}

// telemetry applies the Telemetry resources of the server, root namespace, then
// namespace, then workload (selector or targetRefs): each level overrides what it
// sets.
func (e *edge) telemetry(p *EdgePolicy) {
	if !e.server.mode().Meshed() {
		return
	}
	root := e.c.RootNamespace()
	var meshWide, nsWide, workload *telemetry
	for i := range e.c.telemetries {
		t := &e.c.telemetries[i]
		switch {
		case len(t.targetRefs) > 0:
			if workload == nil && e.targets(t.targetRefs) {
				workload = t
			}
		case t.selector == nil && t.namespace == root:
			if meshWide == nil {
				meshWide = t
			}
		case t.selector == nil && t.namespace == e.server.Namespace:
			if nsWide == nil {
				nsWide = t
			}
		case t.selector != nil && t.namespace == e.server.Namespace && e.server.mode() != dataplane.Waypoint &&
			labelsMatch(t.selector, e.server.Labels):
			if workload == nil {
				workload = t
			}
		}
	}
	for _, t := range []*telemetry{meshWide, nsWide, workload} {
		if t == nil {
			continue
		}
		if t.sampling != nil && e.serverL7() && p.Protocol.L7() {
			v := *t.sampling
			p.TracingSamplingPercent = &v
		}
		if t.accessLog != nil {
			p.AccessLogging = *t.accessLog
		}
		if t.metrics != nil {
			p.MetricsEnabled = *t.metrics
		}
	}
}

// filters lists the EnvoyFilters and WasmPlugins on the server's inbound path.
// Selectors pick workloads in the policy's namespace, or in every namespace for
// policies in the root namespace; targetRefs attach to waypoints.
func (e *edge) filters(p *EdgePolicy) {
	sm := e.server.mode()
	if !e.serverL7() {
		return
	}
	root := e.c.RootNamespace()
	tp, _ := targetPort(e.port)
	for _, x := range e.c.extensions {
		if x.http && !p.Protocol.L7() {
			continue
		}
		if len(x.ports) > 0 && !slices.Contains(x.ports, tp) && !slices.Contains(x.ports, uint32(e.port.Port)) {
			continue
		}
		inScope := x.namespace == e.server.Namespace || x.namespace == root
		applies := false
		switch {
		case sm == dataplane.Sidecar:
			applies = x.sidecarInbound && len(x.targetRefs) == 0 && inScope &&
				(x.selector == nil || labelsMatch(x.selector, e.server.Labels))
		case sm == dataplane.Waypoint && len(x.targetRefs) > 0:
			applies = x.waypoint && e.targets(x.targetRefs)
		case sm == dataplane.Waypoint:
			applies = x.waypoint && inScope && x.selector == nil
		}
		if applies && !slices.Contains(p.Filters, x.filterName()) {
			p.Filters = append(p.Filters, x.filterName())
		}
	}
	slices.Sort(p.Filters)
}
