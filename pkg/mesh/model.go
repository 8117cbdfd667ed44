package mesh

import (
	"sort"
	"strings"
	"time"
)

// The internal model: Istio resources reduced to what the policy model reads,
// with nil specs and empty selectors already normalised. Istio API types stop at
// convert.go.

// objMeta identifies a resource and orders conflicting ones: Istio prefers the
// oldest, then the first by namespace/name.
type objMeta struct {
	namespace, name string
	created         time.Time
}

func (m objMeta) id() string { return m.namespace + "/" + m.name }

func (m objMeta) before(o objMeta) bool {
	if !m.created.Equal(o.created) {
		return m.created.Before(o.created)
	}
	return m.id() < o.id()
}

// targetRef is a policy's attachment to a Service or a (waypoint) Gateway.
type targetRef struct {
	kind, namespace, name string
}

// mtlsMode is a PeerAuthentication mode.
type mtlsMode int

const (
	mtlsUnset mtlsMode = iota
	mtlsDisable
	mtlsPermissive
	mtlsStrict
)

func (m mtlsMode) String() string {
	switch m {
	case mtlsDisable:
		return "DISABLE"
	case mtlsPermissive:
		return "PERMISSIVE"
	case mtlsStrict:
		return "STRICT"
	}
	return "UNSET"
}

type peerAuth struct {
	objMeta
	selector map[string]string
	mode     mtlsMode
	ports    map[uint32]mtlsMode
}

// tlsMode is a DestinationRule's client TLS mode.
type tlsMode int

const (
	tlsUnset tlsMode = iota
	tlsDisable
	tlsSimple
	tlsMutual
	tlsIstioMutual
)

func (m tlsMode) String() string {
	switch m {
	case tlsDisable:
		return "DISABLE"
	case tlsSimple:
		return "SIMPLE"
	case tlsMutual:
		return "MUTUAL"
	case tlsIstioMutual:
		return "ISTIO_MUTUAL"
	}
	return "UNSET"
}

type destRule struct {
	objMeta
	// exportTo lists the namespaces the rule is visible in (empty: all).
	exportTo []string
	host     string
	selector map[string]string
	tls      tlsMode
	portTLS  map[uint32]tlsMode
	subsets  map[string]map[string]string
}

type routeMatch struct {
	port            uint32
	sourceLabels    map[string]string
	sourceNamespace string
	gateways        []string
}

type routeDest struct {
	host, subset string
}

type httpRoute struct {
	name          string
	matches       []routeMatch
	dests         []routeDest
	retries       *int32
	mirrorPercent float64
	faultDelay    time.Duration
	faultPercent  float64
	timeout       time.Duration
	// terminal is "redirect", "direct response" or "delegate" for routes that
	// answer without calling a destination (or hand over to another VirtualService).
	terminal string
}

type l4Route struct {
	matches []routeMatch
	dests   []routeDest
}

type virtualService struct {
	objMeta
	// exportTo lists the namespaces the service is visible in (empty: all).
	exportTo []string
	hosts    []string
	gateways []string
	http     []httpRoute
	l4       []l4Route
}

type egressListener struct {
	port  uint32
	hosts []string
}

type sidecarScope struct {
	objMeta
	selector map[string]string
	egress   []egressListener
	// outbound is "REGISTRY_ONLY", "ALLOW_ANY" or "" (the mesh default).
	outbound string
}

// policyTarget is what an Istio policy applies to: the workloads its selector
// picks in its namespace, or the resources its targetRefs name.
type policyTarget struct {
	objMeta
	selector   map[string]string
	targetRefs []targetRef
}

type telemetry struct {
	policyTarget
	sampling  *float64
	accessLog *bool
	metrics   *bool
}

type extension struct {
	policyTarget
	// kind is "wasm", "lua" or "envoyfilter".
	kind string
	// sidecarInbound and waypoint say where the extension is patched in.
	sidecarInbound, waypoint bool
	// http is false for network (L4) extensions.
	http  bool
	ports []uint32
}

func (e extension) filterName() string { return e.kind + ":" + e.name }

type authzSource struct {
	principals, namespaces, serviceAccounts []string
}

type authzPolicy struct {
	policyTarget
	allow   bool
	sources []authzSource
}

// labelsMatch reports whether every selector label is in labels.
func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		got, ok := labels[k]
		if !ok || got != v {
			return false
		}
	}
	return true
}

// oldestFirst sorts resources so that the one Istio prefers comes first.
func oldestFirst[T any](items []T, meta func(T) objMeta) {
	sort.SliceStable(items, func(i, j int) bool { return meta(items[i]).before(meta(items[j])) })
}

// resolveHost turns a host written in a resource of namespace ns into an FQDN
// like Istio does: a name without dots is short for name.ns.svc.cluster.local;
// anything with a dot (and "*") is taken as written.
func resolveHost(h, ns string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if h == "" || h == "*" || strings.Contains(h, ".") || strings.Contains(h, ":") {
		return h
	}
	return h + "." + ns + ".svc." + DefaultClusterDomain
}

// hostMatches reports whether pattern (an FQDN, "*" or "*.suffix") covers host.
func hostMatches(pattern, host string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(host, pattern[1:])
	}
	return pattern == host
}

// hostSpecificity ranks a matching pattern: exact matches beat wildcards, and
// longer wildcards beat shorter ones (Istio's MostSpecificHostMatch). -1 means
// no match.
func hostSpecificity(pattern, host string) int {
	if !hostMatches(pattern, host) {
		return -1
	}
	if pattern == host {
		return 1 << 20
	}
	return len(pattern)
}

// matchPattern implements the prefix/suffix wildcards of AuthorizationPolicy
// values: "*", "abc*", "*abc" or an exact value; all but "abc*" are host
// patterns.
func matchPattern(pattern, value string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok && !strings.HasPrefix(pattern, "*") {
		return strings.HasPrefix(value, prefix)
	}
	return hostMatches(pattern, value)
}

// exportedTo reads an exportTo list of a resource in namespace owner: is it
// visible to proxies in namespace ns? Empty means everywhere (Istio's
// default, MeshConfig's defaultServiceExportTo and friends not read); "*"
// everywhere, "." the owner's namespace, "~" nowhere, anything else a
// namespace.
func exportedTo(exportTo []string, owner, ns string) bool {
	if len(exportTo) == 0 {
		return true
	}
	for _, e := range exportTo {
		switch e = strings.TrimSpace(e); e {
		case "*":
			return true
		case ".":
			if owner == ns {
				return true
			}
		case "~":
		default:
			if e == ns {
				return true
			}
		}
	}
	return false
}
