// Package profile defines the measured cost model of a mesh's proxies (schema
// meshinsight.dev/v1alpha1, kind Profile): for each data-plane mode, protocol, mTLS
// setting, proxy side, direction and component, a linear model of added latency and
// CPU versus message size, plus rate factors, feature costs and proxy memory. It
// validates profiles, embeds a reference profile built from published figures, and
// reads and writes profiles.
package profile

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
)

// APIVersion and Kind identify the profile format.
const (
	APIVersion = "meshinsight.dev/v1alpha1"
	Kind       = "Profile"
)

// Side is which proxy of a call a traversal crosses.
type Side string

// Sides.
const (
	// Outbound is the client's proxy (sidecar or ztunnel), or a waypoint's leg
	// towards the server.
	Outbound Side = "outbound"
	// Inbound is the server's proxy, or a waypoint's leg from the client.
	Inbound Side = "inbound"
)

// Direction is which message of a call crosses the proxy.
type Direction string

// Directions.
const (
	Request  Direction = "request"
	Response Direction = "response"
)

// Component is a part of the proxy's work that the profiler attributes cost to.
type Component string

// Components, following MeshInsight's breakdown plus scheduling wait and netfilter.
const (
	SocketRead  Component = "socket-read"
	SocketWrite Component = "socket-write"
	Loopback    Component = "loopback"
	Netfilter   Component = "netfilter"
	Epoll       Component = "epoll"
	Parsing     Component = "parsing"
	TLS         Component = "tls"
	Filters     Component = "filters"
	ProxyOther  Component = "proxy-other"
	SchedWait   Component = "sched-wait"
)

// Components lists every component in display order.
var Components = []Component{SocketRead, SocketWrite, Loopback, Netfilter, Epoll, Parsing, TLS, Filters, ProxyOther, SchedWait}

// Profile is a measured (or reference) cost model of a mesh data plane.
type Profile struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   Metadata   `json:"metadata"`
	Provenance Provenance `json:"provenance"`
	// Models are per-traversal component cost models.
	Models []Model `json:"models"`
	// RateFactors scale CPU per request with the request rate through one proxy.
	RateFactors []RateCurve `json:"rateFactors,omitempty"`
	// LatencyRateFactors scale the added p50 latency with the request rate
	// through one proxy (a busy proxy is awake when a request arrives, an
	// idle one pays the wake-up); the models' latency is at the reference
	// rate. p99 is not scaled: queueing and noise dominate it.
	LatencyRateFactors []RateCurve `json:"latencyRateFactors,omitempty"`
	// Features are costs of optional proxy features (wasm, lua, tracing, ...).
	Features []Feature `json:"features,omitempty"`
	// Proxies hold per-proxy fixed costs such as memory.
	Proxies []ProxyCost `json:"proxies,omitempty"`
	// OperatingPoint is where the sidecar models were measured; the
	// queueing term needs it (none without).
	OperatingPoint *OperatingPoint `json:"operatingPoint,omitempty"`
}

// OperatingPoint is where a profile's sidecar models were measured: the
// request rate through each proxy and the proxy's worker threads. The
// models' latency already holds the queueing wait of that point; the
// predictor's queueing term adds only the difference at another load.
type OperatingPoint struct {
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	ProxyThreads      int     `json:"proxyThreads"`
	Source            string  `json:"source,omitempty"`
}

// Metadata names a profile.
type Metadata struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created,omitzero"`
	// Reference is true for profiles built from published figures, not measured here.
	Reference bool `json:"reference,omitempty"`
}

// Provenance says where a profile's numbers come from.
type Provenance struct {
	Platform Platform `json:"platform"`
	// Method describes how the numbers were obtained.
	Method string `json:"method"`
	// Sources cites published figures; models and features refer to them by ID.
	Sources []Source `json:"sources,omitempty"`
	// Checks are the profiler's cross-checks of its own measurements; nil
	// for reference profiles.
	Checks *Checks `json:"checks,omitempty"`
	// MaxBytes is the largest message size the figures were measured at,
	// for profiles whose models carry no fit (the reference: the size of
	// the published runs); predictions beyond it are reported as
	// extrapolations.
	MaxBytes float64 `json:"maxBytes,omitempty"`
	// Load is the traffic a measured profile was taken with; nil for
	// reference profiles.
	Load *Load `json:"load,omitempty"`
}

// Load describes the benchmark traffic of a measurement. CPU per request
// depends on it: requests that arrive together share a proxy's wake-up.
type Load struct {
	// Arrivals is the arrival process: "poisson" or "uniform".
	Arrivals string `json:"arrivals"`
	// Connections is the number of keep-alive client connections.
	Connections int `json:"connections"`
	// ConnectionsKept says how long they stayed open: "cell" (across the
	// rounds of one cell), "run" (one load run).
	ConnectionsKept string `json:"connectionsKept"`
	// NodeBusy is the share (0..1) of the node's CPU time that was busy
	// while the cells were measured, every process included (the benchmark's
	// own too). CPU per request falls as the node gets busier (requests
	// share a proxy's wake-ups; README, "What else runs moves a proxy's CPU
	// per request"), so a profile says how busy the node was; nil when not
	// recorded.
	NodeBusy *float64 `json:"nodeBusy,omitempty"`
}

// Checks tell how far a measured profile can be trusted: how many of its
// cells the machine kept up with, whether the mesh measured slower than the
// bypass in them, and how well the eBPF on-CPU figure of each proxy agreed
// with the kernel's own accounting (/proc schedstat).
type Checks struct {
	// Cells is the number of measured cells.
	Cells int `json:"cells"`
	// KeptUp counts the cells in which the load kept up with its rate and
	// no mesh request failed; only those are judged below.
	KeptUp int `json:"keptUp"`
	// MeshSlower counts the kept-up cells whose mesh p50 exceeded their
	// bypass p50.
	MeshSlower int `json:"meshSlower"`
	// SchedstatAgreementMedian and SchedstatAgreementWorst are
	// |eBPF − schedstat| ÷ schedstat over every proxy of every kept-up
	// cell (0 is perfect agreement).
	SchedstatAgreementMedian float64 `json:"schedstatAgreementMedian"`
	SchedstatAgreementWorst  float64 `json:"schedstatAgreementWorst"`
	// ObserverThroughputRatio is what measuring cost the proxies:
	// closed-loop throughput through them with the probes attached ÷
	// without (1 is free), the median of interleaved pairs of short runs
	// at the start of the profile; 0 when not measured.
	ObserverThroughputRatio float64 `json:"observerThroughputRatio,omitempty"`
}

// Platform describes the machine and mesh that were measured.
type Platform struct {
	CPUModel     string `json:"cpuModel,omitempty"`
	Kernel       string `json:"kernel,omitempty"`
	Kubernetes   string `json:"kubernetes,omitempty"`
	Mesh         string `json:"mesh,omitempty"`
	MeshVersion  string `json:"meshVersion,omitempty"`
	Proxy        string `json:"proxy,omitempty"`
	ProxyVersion string `json:"proxyVersion,omitempty"`
	// NodeType keys per-node-type profiles (e.g. an instance-type label).
	NodeType string `json:"nodeType,omitempty"`
}

// Source is a citation.
type Source struct {
	ID       string `json:"id"`
	Citation string `json:"citation"`
	Figure   string `json:"figure,omitempty"`
}

// Key selects the traversal a model applies to.
type Key struct {
	Mode      dataplane.Mode     `json:"mode"`
	Protocol  dataplane.Protocol `json:"protocol"`
	MTLS      bool               `json:"mtls"`
	Side      Side               `json:"side"`
	Direction Direction          `json:"direction"`
}

// String renders the key as mode/protocol/mtls/side/direction.
func (k Key) String() string {
	return k.Variant() + "/" + string(k.Side) + "/" + string(k.Direction)
}

// Variant names the key's mode, protocol and mTLS setting, without side and direction.
func (k Key) Variant() string {
	m := "plaintext"
	if k.MTLS {
		m = "mtls"
	}
	return string(k.Mode) + "/" + string(k.Protocol) + "/" + m
}

// Linear is y = Intercept + PerKiB × bytes/1024. Units are those of the field that
// holds it.
type Linear struct {
	Intercept float64 `json:"intercept"`
	PerKiB    float64 `json:"perKiB"`
}

// At evaluates the model at a message size in bytes.
func (l Linear) At(bytes float64) float64 { return l.Intercept + l.PerKiB*bytes/1024 }

// Fit reports how well a model matched its measurements.
type Fit struct {
	R2      float64 `json:"r2"`
	Samples int     `json:"samples"`
	// MaxBytes is the largest message size measured.
	MaxBytes float64 `json:"maxBytes,omitempty"`
}

// Model is the cost of one component for one traversal.
type Model struct {
	Key
	Component Component `json:"component"`
	// LatencyP50Micros and LatencyP99Micros are added latency in µs.
	LatencyP50Micros Linear `json:"latencyP50Micros"`
	LatencyP99Micros Linear `json:"latencyP99Micros"`
	// CPUMicrosPerRequest is CPU time in µs per request at the reference rate.
	CPUMicrosPerRequest Linear `json:"cpuMicrosPerRequest"`
	Fit                 *Fit   `json:"fit,omitempty"`
	// Range is how sure the measured figures are; nil when the profile
	// does not know (published figures carry no spread).
	Range *Range `json:"range,omitempty"`
	// Source refers to Provenance.Sources by ID, for reference profiles.
	Source string `json:"source,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Bounds are a relative range around a figure: from the figure × Low to
// the figure × High, 0 ≤ Low ≤ 1 ≤ High.
type Bounds struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// Exact is the range of a figure known exactly (or of unknown spread).
var Exact = Bounds{Low: 1, High: 1}

// MaxRangeHigh bounds Bounds.High: a figure known only to within a factor
// of a thousand is no measurement.
const MaxRangeHigh = 1000

// Range holds a model's relative bounds for each of its figures: a 90%
// interval from the measurement's own spread (see the agent's
// documentation for how it is computed).
type Range struct {
	LatencyP50 Bounds `json:"latencyP50Micros"`
	LatencyP99 Bounds `json:"latencyP99Micros"`
	CPU        Bounds `json:"cpuMicrosPerRequest"`
	// Basis says what the range covers, e.g. "bootstrap over 3–8 rounds
	// per cell and the fit's residuals".
	Basis string `json:"basis,omitempty"`
}

// validate checks each bounds is finite and 0 ≤ Low ≤ 1 ≤ High ≤
// MaxRangeHigh.
func (r *Range) validate() error {
	for _, b := range []struct {
		name string
		b    Bounds
	}{{"latencyP50Micros", r.LatencyP50}, {"latencyP99Micros", r.LatencyP99}, {"cpuMicrosPerRequest", r.CPU}} {
		if !finite(b.b.Low) || !finite(b.b.High) || b.b.Low < 0 || b.b.Low > 1 || b.b.High < 1 || b.b.High > MaxRangeHigh {
			return fmt.Errorf("range %s [%g, %g]: want 0 ≤ low ≤ 1 ≤ high ≤ %d", b.name, b.b.Low, b.b.High, MaxRangeHigh)
		}
	}
	return nil
}

// RatePoint is the factor applied to CPU per request at a request rate through one
// proxy instance.
type RatePoint struct {
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	Factor            float64 `json:"factor"`
}

// RateCurve is a mode's CPU-per-request factor versus rate, interpolated linearly
// between points and clamped outside them.
type RateCurve struct {
	Mode   dataplane.Mode `json:"mode"`
	Points []RatePoint    `json:"points"`
	Source string         `json:"source,omitempty"`
}

// Feature is the cost of an optional proxy feature per request through one L7 proxy.
type Feature struct {
	Name                string `json:"name"`
	LatencyP50Micros    Linear `json:"latencyP50Micros"`
	LatencyP99Micros    Linear `json:"latencyP99Micros"`
	CPUMicrosPerRequest Linear `json:"cpuMicrosPerRequest"`
	Source              string `json:"source,omitempty"`
}

// ProxyCost is the fixed cost of one proxy instance of a mode.
type ProxyCost struct {
	Mode      dataplane.Mode `json:"mode"`
	MemoryMiB float64        `json:"memoryMiB"`
	// PerNode is true when one instance serves a whole node (ztunnel), so its
	// memory is not attributed to workloads.
	PerNode bool   `json:"perNode,omitempty"`
	Source  string `json:"source,omitempty"`
	// Memory, when set, gives the memory of one instance from the size of
	// its configuration; MemoryMiB is then the figure for an unknown one.
	Memory *MemoryModel `json:"memory,omitempty"`
}

// The ranges a profile's numbers must lie in. A measured profile never
// has negative costs (FitLinear constrains both coefficients to be
// non-negative), and no proxy spends seconds on one request; beyond these a
// corrupted or tampered profile would skew every prediction, or overflow
// them.
const (
	// MaxMicros bounds a latency or CPU coefficient (µs, or µs per KiB): 10 s.
	MaxMicros = 1e7
	// MaxFactor bounds a rate factor (measured ones are ratios of noisy
	// figures, so the bound is loose).
	MaxFactor = 1000
	// MaxRequestsPerSecond bounds the rate of a rate-factor point.
	MaxRequestsPerSecond = 1e9
	// MaxMemoryMiB bounds a proxy's memory (10 TiB).
	MaxMemoryMiB = 1e7
	// MaxBytes bounds a measured message size (1 TiB).
	MaxBytes = 1 << 40
)

// Validate checks the profile's structure and values.
func (p *Profile) Validate() error {
	if p.APIVersion != APIVersion {
		return fmt.Errorf("apiVersion %q: want %q", p.APIVersion, APIVersion)
	}
	if p.Kind != Kind {
		return fmt.Errorf("kind %q: want %q", p.Kind, Kind)
	}
	if len(p.Models) == 0 {
		return fmt.Errorf("models: at least one model is required")
	}
	if err := inRange("provenance.maxBytes", p.Provenance.MaxBytes, 0, MaxBytes); err != nil {
		return err
	}
	if l := p.Provenance.Load; l != nil && l.NodeBusy != nil {
		if err := inRange("provenance.load.nodeBusy", *l.NodeBusy, 0, 1); err != nil {
			return err
		}
	}
	sources := make(map[string]bool, len(p.Provenance.Sources))
	for _, s := range p.Provenance.Sources {
		sources[s.ID] = true
	}
	checkSource := func(where, id string) error {
		if id != "" && !sources[id] {
			return fmt.Errorf("%s: source %q is not listed in provenance.sources", where, id)
		}
		return nil
	}
	seen := make(map[modelKey]int, len(p.Models))
	for i, m := range p.Models {
		if err := validateModel(i, m, seen, checkSource); err != nil {
			return err
		}
	}
	if err := validateCurves("rateFactors", p.RateFactors, checkSource); err != nil {
		return err
	}
	if err := validateCurves("latencyRateFactors", p.LatencyRateFactors, checkSource); err != nil {
		return err
	}
	for i, f := range p.Features {
		where := fmt.Sprintf("features[%d] (%s)", i, f.Name)
		if f.Name == "" {
			return fmt.Errorf("%s: name is required", where)
		}
		if err := checkCosts(where, f.LatencyP50Micros, f.LatencyP99Micros, f.CPUMicrosPerRequest); err != nil {
			return err
		}
		if err := checkSource(where, f.Source); err != nil {
			return err
		}
	}
	for i, c := range p.Proxies {
		where := fmt.Sprintf("proxies[%d] (%s)", i, c.Mode)
		if !validMode(c.Mode) {
			return fmt.Errorf("%s: unknown mode %q", where, c.Mode)
		}
		if err := inRange(where+": memoryMiB", c.MemoryMiB, 0, MaxMemoryMiB); err != nil {
			return err
		}
		if err := checkSource(where, c.Source); err != nil {
			return err
		}
	}
	if op := p.OperatingPoint; op != nil {
		if !finite(op.RequestsPerSecond) || op.RequestsPerSecond <= 0 || op.ProxyThreads < 1 || op.ProxyThreads > 1024 {
			return fmt.Errorf("operatingPoint: %g req/s with %d threads: want a positive rate and 1 to 1024 threads", op.RequestsPerSecond, op.ProxyThreads)
		}
		if err := checkSource("operatingPoint", op.Source); err != nil {
			return err
		}
	}
	return validateMemory(p.Proxies, checkSource)
}

// modelKey identifies a model: its traversal and component.
type modelKey struct {
	Key
	Component
}

// validateModel checks models[i]; seen maps the keys before it to their
// index, for duplicates.
func validateModel(i int, m Model, seen map[modelKey]int, checkSource func(where, id string) error) error {
	where := fmt.Sprintf("models[%d] (%s/%s)", i, m.Key, m.Component)
	if !validMode(m.Mode) {
		return fmt.Errorf("%s: unknown mode %q", where, m.Mode)
	}
	if !validProtocol(m.Protocol) {
		return fmt.Errorf("%s: unknown protocol %q", where, m.Protocol)
	}
	if m.Side != Inbound && m.Side != Outbound {
		return fmt.Errorf("%s: side %q: want inbound or outbound", where, m.Side)
	}
	if m.Direction != Request && m.Direction != Response {
		return fmt.Errorf("%s: direction %q: want request or response", where, m.Direction)
	}
	if !validComponent(m.Component) {
		return fmt.Errorf("%s: unknown component %q", where, m.Component)
	}
	k := modelKey{m.Key, m.Component}
	if j, dup := seen[k]; dup {
		return fmt.Errorf("%s: duplicates models[%d]", where, j)
	}
	seen[k] = i
	if err := checkCosts(where, m.LatencyP50Micros, m.LatencyP99Micros, m.CPUMicrosPerRequest); err != nil {
		return err
	}
	if m.Fit != nil {
		if err := inRange(where+": fit.maxBytes", m.Fit.MaxBytes, 0, MaxBytes); err != nil {
			return err
		}
		if m.Fit.Samples < 0 || !finite(m.Fit.R2) {
			return fmt.Errorf("%s: fit: samples must not be negative and r2 must be a number", where)
		}
	}
	if m.Range != nil {
		if err := m.Range.validate(); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	return checkSource(where, m.Source)
}

// checkCosts checks the three linear costs of a model or feature.
func checkCosts(where string, p50, p99, cpu Linear) error {
	for _, l := range []struct {
		name string
		v    Linear
	}{{"latencyP50Micros", p50}, {"latencyP99Micros", p99}, {"cpuMicrosPerRequest", cpu}} {
		if err := inRange(where+": "+l.name+".intercept", l.v.Intercept, 0, MaxMicros); err != nil {
			return err
		}
		if err := inRange(where+": "+l.name+".perKiB", l.v.PerKiB, 0, MaxMicros); err != nil {
			return err
		}
	}
	return nil
}

// inRange fails unless lo <= v <= hi, saying what is wrong with what and
// what to do.
func inRange(what string, v, lo, hi float64) error {
	if finite(v) && v >= lo && v <= hi {
		return nil
	}
	return fmt.Errorf("%s is %v, want a number from %v to %v (a profile written by kubectl meshinsight profile is always in range: measure again, or correct the file)", what, v, lo, hi)
}

// RateFactor returns the CPU-per-request factor for a mode at a rate through one
// proxy instance, and whether the rate lay inside the measured range. A mode
// without a curve has factor 1.
func (p *Profile) RateFactor(mode dataplane.Mode, requestsPerSecond float64) (factor float64, inRange bool) {
	return curveAt(p.RateFactors, mode, requestsPerSecond)
}

// LatencyRateFactor is RateFactor for the added p50 latency.
func (p *Profile) LatencyRateFactor(mode dataplane.Mode, requestsPerSecond float64) (factor float64, inRange bool) {
	return curveAt(p.LatencyRateFactors, mode, requestsPerSecond)
}

// curveAt interpolates a mode's curve linearly, clamped outside its range.
func curveAt(curves []RateCurve, mode dataplane.Mode, requestsPerSecond float64) (factor float64, inRange bool) {
	for _, c := range curves {
		if c.Mode != mode {
			continue
		}
		pts := c.Points
		if requestsPerSecond <= pts[0].RequestsPerSecond {
			return pts[0].Factor, requestsPerSecond == pts[0].RequestsPerSecond || len(pts) == 1
		}
		last := pts[len(pts)-1]
		if requestsPerSecond >= last.RequestsPerSecond {
			return last.Factor, requestsPerSecond == last.RequestsPerSecond
		}
		for i := 1; i < len(pts); i++ {
			a, b := pts[i-1], pts[i]
			if requestsPerSecond <= b.RequestsPerSecond {
				t := (requestsPerSecond - a.RequestsPerSecond) / (b.RequestsPerSecond - a.RequestsPerSecond)
				return a.Factor + t*(b.Factor-a.Factor), true
			}
		}
	}
	return 1, true
}

func validateCurves(field string, curves []RateCurve, checkSource func(where, id string) error) error {
	for i, c := range curves {
		where := fmt.Sprintf("%s[%d] (%s)", field, i, c.Mode)
		if !validMode(c.Mode) {
			return fmt.Errorf("%s: unknown mode %q", where, c.Mode)
		}
		if len(c.Points) == 0 {
			return fmt.Errorf("%s: at least one point is required", where)
		}
		for j, pt := range c.Points {
			if !(pt.RequestsPerSecond > 0) || !(pt.Factor > 0) || pt.RequestsPerSecond > MaxRequestsPerSecond || pt.Factor > MaxFactor {
				return fmt.Errorf("%s: points[%d]: rate %v and factor %v must be positive, the rate at most %v and the factor at most %v",
					where, j, pt.RequestsPerSecond, pt.Factor, float64(MaxRequestsPerSecond), float64(MaxFactor))
			}
			if j > 0 && pt.RequestsPerSecond <= c.Points[j-1].RequestsPerSecond {
				return fmt.Errorf("%s: points must be in increasing rate order", where)
			}
		}
		if err := checkSource(where, c.Source); err != nil {
			return err
		}
	}
	return nil
}

// SupportedBytes is the largest message size the profile's figures rest
// on: provenance.maxBytes when set, else the smallest of its models' largest
// measured sizes; 0 when the profile says neither.
func (p *Profile) SupportedBytes() float64 {
	if p.Provenance.MaxBytes > 0 {
		return p.Provenance.MaxBytes
	}
	limit := 0.0
	for _, m := range p.Models {
		if m.Fit != nil && m.Fit.MaxBytes > 0 && (limit == 0 || m.Fit.MaxBytes < limit) {
			limit = m.Fit.MaxBytes
		}
	}
	return limit
}

// HasRateFactors reports whether the profile has a CPU rate curve for mode.
func (p *Profile) HasRateFactors(mode dataplane.Mode) bool {
	return slices.ContainsFunc(p.RateFactors, func(c RateCurve) bool { return c.Mode == mode })
}

// Feature returns the cost of a named feature.
func (p *Profile) Feature(name string) (Feature, bool) {
	for _, f := range p.Features {
		if f.Name == name {
			return f, true
		}
	}
	return Feature{}, false
}

// ProxyCost returns the fixed cost of a mode's proxy.
func (p *Profile) ProxyCost(mode dataplane.Mode) (ProxyCost, bool) {
	for _, c := range p.Proxies {
		if c.Mode == mode {
			return c, true
		}
	}
	return ProxyCost{}, false
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func validMode(m dataplane.Mode) bool         { return slices.Contains(dataplane.ProxiedModes, m) }
func validProtocol(p dataplane.Protocol) bool { return slices.Contains(dataplane.Protocols, p) }
func validComponent(c Component) bool         { return slices.Contains(Components, c) }
