// Package diag holds the coded diagnostics that kubectl-meshinsight attaches to its
// results: assumptions it had to make (defaults, fallbacks) and warnings about the
// input, in the style of `istioctl analyze` messages. Every code is documented in
// Codes so that users can look it up.
package diag

import (
	"fmt"
	"sort"
	"strings"
)

// Severity says how much a message should worry the reader.
type Severity string

const (
	// Info marks an assumption that is expected and usually harmless.
	Info Severity = "Info"
	// Warning marks something that may make a figure wrong.
	Warning Severity = "Warning"
)

// Code identifies a kind of message. Codes are stable; never reuse one.
type Code string

// The codes. Keep Codes in step with this list.
const (
	DefaultUsed           Code = "MI0001"
	MTLSImpossible        Code = "MI0002"
	ProfileFallback       Code = "MI0003"
	FeatureNotProfiled    Code = "MI0004"
	CycleInGraph          Code = "MI0005"
	L7FeatureWithoutProxy Code = "MI0006"
	ReferenceProfile      Code = "MI0007"
	RateOutsideProfile    Code = "MI0008"
	WhatIfNoMatch         Code = "MI0009"
	SizeOutsideProfile    Code = "MI0010"
	ProxyMemoryUnknown    Code = "MI0011"
	AmbientAlwaysMTLS     Code = "MI0012"
	PartialTopology       Code = "MI0013"
	MixedDataPlane        Code = "MI0014"
	WaypointMissing       Code = "MI0015"
	TelemetryIncomplete   Code = "MI0016"
	TelemetryMalformed    Code = "MI0017"
	ReporterFallback      Code = "MI0018"
	CounterReset          Code = "MI0019"
	ShortSampleInterval   Code = "MI0020"
	ProtocolSniffed       Code = "MI0021"
	NotProxied            Code = "MI0022"
	MTLSConflict          Code = "MI0023"
	MeshConfigSimplified  Code = "MI0024"
	OutsideEgressScope    Code = "MI0025"
	OutsideTopology       Code = "MI0026"
	TelemetryDisagrees    Code = "MI0027"
	AssumedEdge           Code = "MI0028"
	TraceRepaired         Code = "MI0029"
	TraceRates            Code = "MI0030"
	NodeTypeProfile       Code = "MI0031"
	SizeFarOutsideProfile Code = "MI0032"
	NoRanges              Code = "MI0033"
	ProxySaturated        Code = "MI0034"
	ProxyConfigPartial    Code = "MI0035"
	SidecarScopeRisk      Code = "MI0036"
	SelectionCut          Code = "MI0037"
)

// CodeInfo documents one code.
type CodeInfo struct {
	Code     Code
	Severity Severity
	Title    string
	Help     string
}

// Codes documents every code; a test keeps README.md's table in step.
var Codes = []CodeInfo{
	{DefaultUsed, Info, "default used",
		"An optional field was missing; its documented default was used. Set the field to silence this."},
	{MTLSImpossible, Warning, "mTLS impossible",
		"The edge asks for mTLS but one side has no proxy, so the traffic is plaintext (or rejected under STRICT)."},
	{ProfileFallback, Warning, "profile fallback",
		"The profile has no model for this mode, protocol or mTLS setting; a related model was used instead. Profile that combination."},
	{FeatureNotProfiled, Warning, "feature not profiled",
		"The edge uses a proxy feature (filter, tracing, ...) that the profile has no cost for; it adds nothing to the figures."},
	{CycleInGraph, Warning, "cycle in call graph",
		"A call cycle was found; end-to-end paths stop where the cycle closes."},
	{L7FeatureWithoutProxy, Warning, "L7 feature without L7 proxy",
		"An L7 feature is set on an edge whose server side has no L7 proxy (none, or ambient without a waypoint); it is ignored."},
	{ReferenceProfile, Info, "reference profile",
		"No measured profile was given; the embedded reference profile built from published figures was used. Run `kubectl meshinsight profile` for your own."},
	{RateOutsideProfile, Info, "rate outside profile",
		"A proxy's request rate lies outside the rates the profile measured, and the nearest measured rate factor was used; or the profile has no rate factors for that kind of proxy, so its CPU per request is the same at every rate."},
	{WhatIfNoMatch, Warning, "what-if matched nothing",
		"A --what-if selector matched no edge or workload; check the names."},
	{SizeOutsideProfile, Info, "message size outside profile",
		"A message size lies beyond the largest size the profile measured (or, for the reference profile, the size of the published runs); the linear models were extrapolated."},
	{ProxyMemoryUnknown, Info, "proxy memory not from the profile",
		"The profile has no memory figure for a kind of proxy (sidecar, ztunnel per node, waypoint): a stand-in figure is used (a waypoint takes the sidecar's, a measured profile the reference profile's) and named, or, without any, that proxy's memory is missing from the totals."},
	{AmbientAlwaysMTLS, Info, "ambient always uses mTLS",
		"Traffic between two meshed workloads where either side is in ambient mode travels over HBONE, which is always mTLS; an edge's mtls: false does not apply."},
	{PartialTopology, Warning, "partial topology",
		"Part of the cluster could not be read (usually RBAC) or an annotation could not be parsed; figures that depend on it use defaults."},
	{MixedDataPlane, Warning, "mixed data plane",
		"A workload's pods differ in having a sidecar (often a rollout in progress); the first pod's data plane was used."},
	{WaypointMissing, Warning, "waypoint missing",
		"istio.io/use-waypoint names a waypoint for which no Gateway of class istio-waypoint exists; traffic may be failing."},
	{TelemetryIncomplete, Warning, "telemetry incomplete",
		"Part of the traffic telemetry could not be read (a sidecar's stats did not answer, Prometheus warned, or no Istio metrics were found); the observed rates cover only what was read."},
	{TelemetryMalformed, Warning, "malformed telemetry",
		"Metrics could not be parsed or held impossible values (negative, NaN); they were skipped."},
	{ReporterFallback, Info, "reporter fallback",
		"No client-side proxy reported this edge (a client without a sidecar, or ambient), so its traffic comes from the server side (reporter destination) or a waypoint (reporter waypoint)."},
	{CounterReset, Info, "counter reset",
		"A counter went backwards between two scrapes of a sidecar (the proxy restarted); the rate counts from the reset, so it may be low."},
	{ShortSampleInterval, Info, "short sample interval",
		"Sidecar stats are sampled twice a sample interval apart (default 10s), not over the whole requested window; rates are averages over that interval."},
	{ProtocolSniffed, Warning, "protocol sniffed",
		"A Service port has no appProtocol Istio knows and no protocol prefix in its name, so the proxy sniffs the protocol (HTTP/1.1, HTTP/2, else TCP) from the first bytes; http was assumed. Set appProtocol or name the port <protocol>[-suffix]."},
	{NotProxied, Warning, "traffic not proxied",
		"The port carries UDP (or SCTP), which Istio's proxies do not intercept; the edge has no mesh overhead."},
	{MTLSConflict, Warning, "mTLS settings conflict",
		"The client's DestinationRule TLS mode and the server's PeerAuthentication disagree (e.g. DISABLE towards a STRICT server), or mTLS is forced towards a server without a proxy; such calls fail at runtime."},
	{MeshConfigSimplified, Info, "Istio configuration simplified",
		"An Istio resource was reduced to what the model can express: several resources or routes matched and one was used, a named targetPort could not be resolved, or a field has no effect on overhead."},
	{OutsideEgressScope, Warning, "outside Sidecar egress scope",
		"The client's Sidecar resource does not import the server's host, so its sidecar sends the call to the PassthroughCluster (plain TCP, no mTLS, no L7 features) or blocks it (REGISTRY_ONLY)."},
	{OutsideTopology, Info, "outside the discovered topology",
		"Telemetry names a workload or service outside the namespaces read (-n); it was added with assumed settings. Use -A to read them all."},
	{TelemetryDisagrees, Warning, "telemetry disagrees with configuration",
		"The mTLS observed in telemetry differs from what the Istio configuration predicts; the configuration was used. Check for stale policies or PERMISSIVE fallbacks."},
	{AssumedEdge, Info, "edge assumed from configuration",
		"Without telemetry, this edge was inferred from Istio configuration (AuthorizationPolicy, Sidecar, VirtualService) and carries default rates and sizes."},
	{TraceRepaired, Warning, "trace repaired",
		"A trace was malformed or partial (missing parent or root, clock skew, a cycle of parent references, duplicate span ids, unusable spans); it was repaired or the part concerned was left out, so its critical path may be approximate."},
	{TraceRates, Info, "rates from traces",
		"Call rates were derived from the calls seen in the traces over the time they span; sampled traces under-count them. Rates only change the predicted CPU, not the latency."},
	{NodeTypeProfile, Info, "per-node-type profile",
		"The proxies of workloads on this node type were predicted with the profile measured on that node type (kubectl meshinsight profile --all-node-types); workloads on node types without one use the default profile."},
	{SizeFarOutsideProfile, Warning, "message size far outside profile",
		"A message size is more than ten times the largest size the profile measured (or, for the reference profile, the size of the published runs); the linear models were extrapolated so far that the figures may be badly wrong. Profile those sizes."},
	{NoRanges, Info, "figures without ranges",
		"A measured profile gives its models a low–high range, but some figures also use models without one (borrowed ztunnel or waypoint models, feature costs), so those figures are shown without a range. The reference profile's published figures carry no spread at all, so its predictions have no ranges."},
	{ProxySaturated, Warning, "proxy saturated",
		"A sidecar's predicted CPU per instance reaches 95% of its worker threads (the profile's operating point): requests queue without bound there, so its latency figures are a floor. Add replicas, raise the proxy's concurrency or its CPU."},
	{ProxyConfigPartial, Info, "proxy configuration partly read",
		"Each sidecar's configuration (and so its memory) was counted over the Services of the namespaces read; read every namespace (-A) to count the whole mesh."},
	{SidecarScopeRisk, Warning, "narrower Sidecar scope",
		"Sidecar resources that import only the Services observed send calls to any other host to the PassthroughCluster (outboundTrafficPolicy ALLOW_ANY: plain TCP, no mTLS, no L7 features) or fail them (REGISTRY_ONLY); or they conflict with an existing Sidecar. Check the window covered every call before applying them."},
	{SelectionCut, Warning, "calls outside the selection",
		"-l/--selector kept only the workloads it matches and the calls between them: calls to or from other workloads are left out, and so is what they cost the selected workloads' proxies. Widen the selector to count them."},
}

// Lookup returns the documentation of a code.
func Lookup(c Code) (CodeInfo, bool) {
	for _, info := range Codes {
		if info.Code == c {
			return info, true
		}
	}
	return CodeInfo{}, false
}

// Message is one diagnostic about one subject (an edge, a workload, a field).
type Message struct {
	Code     Code     `json:"code"`
	Severity Severity `json:"severity"`
	Subject  string   `json:"subject,omitempty"`
	Message  string   `json:"message"`
}

// String renders the message like istioctl analyze does.
func (m Message) String() string {
	if m.Subject == "" {
		return fmt.Sprintf("%s [%s] %s", m.Severity, m.Code, m.Message)
	}
	return fmt.Sprintf("%s [%s] (%s) %s", m.Severity, m.Code, m.Subject, m.Message)
}

// New builds a message with the severity documented for its code.
func New(c Code, subject, format string, args ...any) Message {
	sev := Warning
	if info, ok := Lookup(c); ok {
		sev = info.Severity
	}
	return Message{Code: c, Severity: sev, Subject: subject, Message: fmt.Sprintf(format, args...)}
}

// List collects messages, dropping exact duplicates.
type List struct {
	items []Message
	seen  map[Message]struct{}
}

// Add appends m unless an identical message is already present.
func (l *List) Add(m Message) {
	if l.seen == nil {
		l.seen = make(map[Message]struct{})
	}
	if _, dup := l.seen[m]; dup {
		return
	}
	l.seen[m] = struct{}{}
	l.items = append(l.items, m)
}

// AddAll appends every message of ms.
func (l *List) AddAll(ms []Message) {
	for _, m := range ms {
		l.Add(m)
	}
}

// Sorted returns the messages, warnings first, then by code and subject.
func (l *List) Sorted() []Message {
	out := append([]Message(nil), l.items...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Severity != out[j].Severity {
			return out[i].Severity == Warning
		}
		if out[i].Code != out[j].Code {
			return out[i].Code < out[j].Code
		}
		return out[i].Subject < out[j].Subject
	})
	return out
}

// Len reports how many messages the list holds.
func (l *List) Len() int { return len(l.items) }

// Has reports whether msgs hold a message of code whose rendering (subject
// and text, as String gives them) contains text; "" matches any message of
// that code.
func Has(msgs []Message, code Code, text string) bool {
	for _, m := range msgs {
		if m.Code == code && strings.Contains(m.String(), text) {
			return true
		}
	}
	return false
}
