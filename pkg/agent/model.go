package agent

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/spread"
)

// Mode is the data-plane mode the local datapath measures.
const Mode = dataplane.Sidecar

// ErrNoRequests is returned when a cell completed no request through the mesh,
// so nothing can be attributed per request.
var ErrNoRequests = errors.New("no requests completed through the mesh")

// Cell identifies one measurement of the matrix.
type Cell struct {
	// Protocol is the profile's protocol name ("tcp", "http").
	Protocol string `json:"protocol"`
	MTLS     bool   `json:"mtls"`
	// RatePerSecond is the open-loop request rate of the load.
	RatePerSecond float64 `json:"ratePerSecond"`
	// Bytes is the payload size of both the request and the response.
	Bytes int `json:"bytes"`
}

// String formats the cell for progress lines and errors.
func (c Cell) String() string {
	return fmt.Sprintf("%s mtls=%s rate=%g/s size=%dB", c.Protocol, onOff(c.MTLS), c.RatePerSecond, c.Bytes)
}

// SideMeasurement is what the probes saw of one proxy during one cell.
type SideMeasurement struct {
	Side profile.Side `json:"side"`
	PID  int          `json:"pid"`
	// OnCPUNanos is the proxy's on-CPU time from eBPF (sched_switch).
	OnCPUNanos uint64 `json:"onCPUNanos"`
	// SchedstatOnCPUNanos is the same from /proc/PID/task/*/schedstat.
	SchedstatOnCPUNanos uint64 `json:"schedstatOnCPUNanos"`
	// RunqWaitNanos is the time the proxy's threads waited on a run queue.
	RunqWaitNanos uint64 `json:"runqWaitNanos"`
	// Runs is how many times the proxy's threads were put on a CPU
	// (schedstat pcount): its wake-ups, roughly, to set beside a chain's.
	Runs uint64 `json:"runs,omitempty"`
	// Samples counts classified stack samples per component (including
	// classify.App).
	Samples map[profile.Component]uint64 `json:"samples"`
	// RSSBytes is the proxy's resident memory at the end of the cell; 0
	// when it could not be read.
	RSSBytes uint64 `json:"rssBytes,omitempty"`
}

// Agreement is the relative difference of the eBPF and schedstat on-CPU
// figures, |ebpf − schedstat| ÷ schedstat: 0 is perfect agreement.
func (s SideMeasurement) Agreement() float64 {
	if s.SchedstatOnCPUNanos == 0 {
		if s.OnCPUNanos == 0 {
			return 0
		}
		return 1
	}
	return math.Abs(float64(s.OnCPUNanos)-float64(s.SchedstatOnCPUNanos)) / float64(s.SchedstatOnCPUNanos)
}

// sampleShares returns the fraction of stack samples per proxy component,
// summing to 1: app and unknown components fold into proxy-other, and no
// samples at all is all proxy-other.
func sampleShares(samples map[profile.Component]uint64) map[profile.Component]float64 {
	known := make(map[profile.Component]bool, len(profile.Components))
	for _, c := range profile.Components {
		known[c] = true
	}
	var total uint64
	counts := make(map[profile.Component]uint64)
	for c, n := range samples {
		if c == profile.SchedWait || !known[c] {
			c = profile.ProxyOther // app, unknown, and (never sampled) sched-wait
		}
		counts[c] += n
		total += n
	}
	if total == 0 {
		return map[profile.Component]float64{profile.ProxyOther: 1}
	}
	shares := make(map[profile.Component]float64, len(counts))
	for c, n := range counts {
		if n > 0 {
			shares[c] = float64(n) / float64(total)
		}
	}
	return shares
}

// Round is one mesh/bypass pair of load runs, latencies in µs from the
// intended send time.
type Round struct {
	MeshP50Micros   float64 `json:"meshP50Micros"`
	MeshP99Micros   float64 `json:"meshP99Micros"`
	BypassP50Micros float64 `json:"bypassP50Micros"`
	BypassP99Micros float64 `json:"bypassP99Micros"`
	// MeshRequests and CPUMicrosPerRequest are the round's own requests
	// through the proxies and both proxies' on-CPU time per request (eBPF);
	// zero when the cell was measured in one piece.
	MeshRequests        int     `json:"meshRequests,omitempty"`
	CPUMicrosPerRequest float64 `json:"cpuMicrosPerRequest,omitempty"`
	// MeshAchievedRate is the round's achieved mesh request rate.
	MeshAchievedRate float64 `json:"meshAchievedRate,omitempty"`
	// NodeBusy is the share (0..1) of the node's CPU time that was busy
	// during the round (mesh and bypass run, every process): what else runs
	// moves a proxy's CPU per request; absent when /proc/stat was unreadable.
	NodeBusy *float64 `json:"nodeBusy,omitempty"`
}

// NodeBusy is the median over the cell's rounds of the node's busy share,
// and false when no round has one.
func (m Measurement) NodeBusy() (float64, bool) {
	var v []float64
	for _, r := range m.Rounds {
		if r.NodeBusy != nil {
			v = append(v, *r.NodeBusy)
		}
	}
	if len(v) == 0 {
		return 0, false
	}
	return spread.Of(v).Median, true
}

// Precise reports whether the cell's CPU per request is known to
// precision and its added p50 to twice that (latency is the noisier
// figure): the standard error of the mean over its rounds, relative to the
// mean (two rounds at least).
func (m Measurement) Precise(precision float64) bool {
	if len(m.Rounds) < 2 {
		return false
	}
	cpu := make([]float64, len(m.Rounds))
	p50 := make([]float64, len(m.Rounds))
	for i, r := range m.Rounds {
		cpu[i], p50[i] = r.CPUMicrosPerRequest, r.MeshP50Micros-r.BypassP50Micros
	}
	return relativeSE(cpu) <= precision && relativeSE(p50) <= 2*precision
}

// relativeSE is the standard error of the mean of v over |mean| (+Inf for
// a zero mean).
func relativeSE(v []float64) float64 {
	var sum float64
	for _, x := range v {
		sum += x
	}
	mean := sum / float64(len(v))
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	se := math.Sqrt(ss/float64(len(v)-1)) / math.Sqrt(float64(len(v)))
	if mean == 0 {
		return math.Inf(1)
	}
	return se / math.Abs(mean)
}

// Measurement is everything measured in one cell.
type Measurement struct {
	Cell
	// MeshRequests is how many requests crossed the proxies: completed mesh
	// requests plus the load generator's readiness requests.
	MeshRequests int `json:"meshRequests"`
	// MeshErrors and BypassErrors count failed requests over all rounds.
	MeshErrors   int `json:"meshErrors"`
	BypassErrors int `json:"bypassErrors"`
	// MeshAchievedRate is the median achieved rate of the mesh rounds.
	MeshAchievedRate float64 `json:"meshAchievedRate"`
	// MeshLate counts mesh requests over all rounds that no connection was
	// free to send on time: the proxies (or the machine) could not keep up
	// with the rate, and latency includes queueing.
	MeshLate int `json:"meshLate"`
	// BypassLate is the same for the bypass rounds: the machine itself
	// could not keep up, whatever the proxies did.
	BypassLate int     `json:"bypassLate"`
	Rounds     []Round `json:"rounds"`
	// Sides holds the outbound (client) then the inbound (server) proxy.
	Sides []SideMeasurement `json:"sides"`
	// Elapsed is the cell's wall time.
	Elapsed time.Duration `json:"elapsedNanos"`
}

// Overloaded reports whether more than 5% of the mesh or the bypass
// requests were late or any mesh request failed: the cell's latencies then
// measure queueing on the machine more than the proxies.
func (m Measurement) Overloaded() bool {
	return m.MeshLate*20 > m.MeshRequests || m.BypassLate*20 > m.MeshRequests || m.MeshErrors > 0
}

// AddedP50Micros is mesh − bypass p50 per round: median and spread.
func (m Measurement) AddedP50Micros() spread.Figure {
	v := make([]float64, len(m.Rounds))
	for i, r := range m.Rounds {
		v[i] = r.MeshP50Micros - r.BypassP50Micros
	}
	return spread.Of(v)
}

// AddedP99Micros is mesh − bypass p99 per round: median and spread.
func (m Measurement) AddedP99Micros() spread.Figure {
	v := make([]float64, len(m.Rounds))
	for i, r := range m.Rounds {
		v[i] = r.MeshP99Micros - r.BypassP99Micros
	}
	return spread.Of(v)
}

// MedianLatencies returns the median over rounds of the mesh and bypass p50
// and p99, in µs.
func (m Measurement) MedianLatencies() (meshP50, bypassP50, meshP99, bypassP99 float64) {
	f := func(g func(Round) float64) float64 {
		v := make([]float64, len(m.Rounds))
		for i, r := range m.Rounds {
			v[i] = g(r)
		}
		return spread.Of(v).Median
	}
	return f(func(r Round) float64 { return r.MeshP50Micros }), f(func(r Round) float64 { return r.BypassP50Micros }),
		f(func(r Round) float64 { return r.MeshP99Micros }), f(func(r Round) float64 { return r.BypassP99Micros })
}

// CPUMicrosPerRequest is the total on-CPU time of both proxies per mesh
// request, in µs.
func (m Measurement) CPUMicrosPerRequest() float64 {
	if m.MeshRequests <= 0 {
		return 0
	}
	var ns uint64
	for _, s := range m.Sides {
		ns += s.OnCPUNanos
	}
	return float64(ns) / 1e3 / float64(m.MeshRequests)
}

// ChecksOf summarises the measurements' cross-checks for the profile's
// provenance (profile.Checks).
func ChecksOf(ms []Measurement) *profile.Checks {
	c := &profile.Checks{Cells: len(ms)}
	var agreement []float64
	for _, m := range ms {
		if m.Overloaded() {
			continue
		}
		c.KeptUp++
		if meshP50, bypassP50, _, _ := m.MedianLatencies(); meshP50 > bypassP50 {
			c.MeshSlower++
		}
		for _, s := range m.Sides {
			agreement = append(agreement, s.Agreement())
		}
	}
	if len(agreement) > 0 {
		f := spread.Of(agreement)
		c.SchedstatAgreementMedian, c.SchedstatAgreementWorst = f.Median, f.Max
	}
	return c
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// Cost is the attributed cost of one component of one traversal in one cell.
type Cost struct {
	Side      profile.Side
	Direction profile.Direction
	Component profile.Component
	// CPUMicros is CPU time per request; LatencyP50Micros and
	// LatencyP99Micros are the added latency apportioned to the component.
	CPUMicros, LatencyP50Micros, LatencyP99Micros float64
}

// Attribute apportions a cell's measurements to sides, directions and
// components as the package documentation describes. It returns one Cost per
// side, direction and profile component, in a fixed order.
func Attribute(m Measurement) ([]Cost, error) {
	return attribute(m, pooledShares([]Measurement{m}))
}

// attribute is Attribute with each side's components' shares taken from
// shares (pooledShares of the cells they were pooled over).
func attribute(m Measurement, shares map[sideOf]map[profile.Component]float64) ([]Cost, error) {
	if m.MeshRequests <= 0 {
		return nil, fmt.Errorf("attributing cell %s: %w", m.Cell, ErrNoRequests)
	}
	if len(m.Sides) == 0 {
		return nil, fmt.Errorf("attributing cell %s: no proxy measured", m.Cell)
	}
	req := float64(m.MeshRequests)
	cpu := make([]float64, len(m.Sides))
	var totalCPU float64
	for i, s := range m.Sides {
		cpu[i] = float64(s.OnCPUNanos) / 1e3 / req
		totalCPU += cpu[i]
	}
	addedP50 := math.Max(0, m.AddedP50Micros().Median)
	addedP99 := math.Max(0, m.AddedP99Micros().Median)
	var out []Cost
	for i, s := range m.Sides {
		weight := 1 / float64(len(m.Sides))
		if totalCPU > 0 {
			weight = cpu[i] / totalCPU
		}
		wait := float64(s.RunqWaitNanos) / 1e3 / req
		p50, p99 := addedP50*weight, addedP99*weight
		wait50, wait99 := math.Min(wait, p50), math.Min(wait, p99)
		shares := shares[sideOf{m.Protocol, m.MTLS, s.Side}]
		for _, dir := range []profile.Direction{profile.Request, profile.Response} {
			for _, c := range profile.Components {
				cost := Cost{Side: s.Side, Direction: dir, Component: c}
				if c == profile.SchedWait {
					cost.LatencyP50Micros, cost.LatencyP99Micros = wait50/2, wait99/2
				} else {
					f := shares[c]
					cost.CPUMicros = cpu[i] * f / 2
					cost.LatencyP50Micros = (p50 - wait50) * f / 2
					cost.LatencyP99Micros = (p99 - wait99) * f / 2
				}
				out = append(out, cost)
			}
		}
	}
	return out, nil
}

// Platform is what the profile's provenance records about the machine and
// proxy measured.
type Platform = profile.Platform

// Method is the provenance text of locally measured profiles.
const Method = "meshinsight-agent profile --local: two-pod sidecar datapath in network namespaces " +
	"(istio-init-style nat rules, proxies as uid 1337, mTLS between the sidecars when on); " +
	"A/B on one server: meshed port vs a port excluded inbound and outbound, interleaved open-loop " +
	"rounds, latency from the intended send time; proxy on-CPU time and run-queue wait from eBPF " +
	"tp_btf sched_switch/sched_wakeup (cross-checked with /proc schedstat), component shares from " +
	"perf CPU-clock stack samples classified by rule file; CPU per request = on-CPU ÷ mesh requests; " +
	"latency = added mesh−bypass median over rounds, apportioned to sides by CPU; each side's CPU and latency " +
	"split into components by its stack-sample shares pooled over all its variant's cells (not measured per " +
	"component), the same split at every size; both split evenly between request and response; " +
	"linear fits over message size at the lowest rate; each model's range is a 90% bootstrap interval over " +
	"the rounds of its variant's cells with the size fit's residual added in quadrature"

// BuildProfile fits the measurements into a profile: one model per
// (protocol, mTLS, side, direction, component) fitted over message size at
// the lowest rate, and the rate curve of mode "sidecar". Models whose every
// figure is zero are left out. The profile is validated.
func BuildProfile(ms []Measurement, name string, created time.Time, platform Platform) (*profile.Profile, error) {
	if len(ms) == 0 {
		return nil, errors.New("building profile: no measurements")
	}
	lowest := math.Inf(1)
	for _, m := range ms {
		lowest = math.Min(lowest, m.RatePerSecond)
	}
	costs, err := collectCosts(ms, lowest)
	if err != nil {
		return nil, fmt.Errorf("building profile: %w", err)
	}
	p := &profile.Profile{
		APIVersion: profile.APIVersion,
		Kind:       profile.Kind,
		Metadata:   profile.Metadata{Name: name, Created: created.UTC()},
		Provenance: profile.Provenance{Platform: platform, Method: Method},
	}
	rs := ranges(ms, lowest)
	for _, k := range costs.keys {
		for _, comp := range profile.Components {
			s, ok := costs.byKey[k][comp]
			if !ok || allZero(s.cpu, s.p50, s.p99) {
				continue
			}
			m, err := fitModel(k, comp, s, lowest)
			if err != nil {
				return nil, err
			}
			m.Range = rangeOf(rs, k)
			p.Models = append(p.Models, m)
		}
	}
	if curve, ok := rateCurve(ms, lowest, Measurement.CPUMicrosPerRequest); ok {
		p.RateFactors = []profile.RateCurve{curve}
	}
	// Cells the machine could not keep up with measure queueing, not the
	// proxies' rate dependence: left out (NaN is skipped).
	addedP50 := func(m Measurement) float64 {
		if m.Overloaded() {
			return math.NaN()
		}
		return m.AddedP50Micros().Median
	}
	if curve, ok := rateCurve(ms, lowest, addedP50); ok {
		p.LatencyRateFactors = []profile.RateCurve{curve}
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("validating the measured profile: %w", err)
	}
	return p, nil
}

// Refit fits measurements (a profile run's cells, as --measurements or
// validate write them) again into a profile like the one that run wrote:
// models and rate factors from ms, as BuildProfile fits them today; name,
// provenance (the method text replaced by today's), operating point and
// memory kept from like. It lets a change of the fit be judged on cells
// already measured, without measuring again.
func Refit(ms []Measurement, like *profile.Profile) (*profile.Profile, error) {
	p, err := BuildProfile(ms, like.Metadata.Name, like.Metadata.Created, like.Provenance.Platform)
	if err != nil {
		return nil, err
	}
	p.Metadata = like.Metadata
	p.Provenance = like.Provenance
	p.Provenance.Method = Method
	p.OperatingPoint = like.OperatingPoint
	p.Proxies = like.Proxies
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("validating the refitted profile: %w", err)
	}
	return p, nil
}

// series are one component's attributed costs against message size.
type series struct{ cpu, p50, p99 []profile.Point }

// costSeries are the attributed costs of every traversal and component,
// keys in first-seen order.
type costSeries struct {
	byKey map[profile.Key]map[profile.Component]*series
	keys  []profile.Key
}

// collectCosts attributes the cells at the reference rate (the lowest)
// to traversals and components. Each side's split into components is the
// share of its stack samples pooled over every cell of its variant (all
// rates and sizes), the same at every size: a cell at the reference rate
// holds only a handful of samples at 99 Hz (a proxy spending 100 µs per
// request at 150 req/s is on a CPU 1.5 % of the time), and shares that
// differ by size only through sampling noise would, fitted component by
// component with non-negative lines, move CPU between sizes — the side's
// total at each size would no longer be the one measured. With one split per
// side, the components' lines sum to the line fitted to the side's total.
func collectCosts(ms []Measurement, lowest float64) (*costSeries, error) {
	cs := &costSeries{byKey: map[profile.Key]map[profile.Component]*series{}}
	pooled := pooledShares(ms)
	for _, m := range ms {
		if m.RatePerSecond != lowest {
			continue
		}
		costs, err := attribute(m, pooled)
		if err != nil {
			return nil, err
		}
		for _, c := range costs {
			k := profile.Key{Mode: Mode, Protocol: dataplane.Protocol(m.Protocol), MTLS: m.MTLS, Side: c.Side, Direction: c.Direction}
			comps, ok := cs.byKey[k]
			if !ok {
				comps = map[profile.Component]*series{}
				cs.byKey[k] = comps
				cs.keys = append(cs.keys, k)
			}
			s, ok := comps[c.Component]
			if !ok {
				s = &series{}
				comps[c.Component] = s
			}
			b := float64(m.Bytes)
			s.cpu = append(s.cpu, profile.Point{Bytes: b, Value: c.CPUMicros})
			s.p50 = append(s.p50, profile.Point{Bytes: b, Value: c.LatencyP50Micros})
			s.p99 = append(s.p99, profile.Point{Bytes: b, Value: c.LatencyP99Micros})
		}
	}
	return cs, nil
}

// sideOf names one side of one variant.
type sideOf struct {
	protocol string
	mtls     bool
	side     profile.Side
}

// pooledShares sums each side's stack samples over every cell of its
// variant and returns their shares (see collectCosts).
func pooledShares(ms []Measurement) map[sideOf]map[profile.Component]float64 {
	counts := map[sideOf]map[profile.Component]uint64{}
	for _, m := range ms {
		for _, s := range m.Sides {
			k := sideOf{m.Protocol, m.MTLS, s.Side}
			if counts[k] == nil {
				counts[k] = map[profile.Component]uint64{}
			}
			for c, n := range s.Samples {
				counts[k][c] += n
			}
		}
	}
	out := make(map[sideOf]map[profile.Component]float64, len(counts))
	for k, c := range counts {
		out[k] = sampleShares(c)
	}
	return out
}

// fitModel fits one component's CPU and latency against message size.
func fitModel(k profile.Key, comp profile.Component, s *series, lowest float64) (profile.Model, error) {
	cpu, cpuFit, err := profile.FitLinear(s.cpu)
	if err != nil {
		return profile.Model{}, fmt.Errorf("fitting %s/%s cpu: %w", k, comp, err)
	}
	p50, p50Fit, err := profile.FitLinear(s.p50)
	if err != nil {
		return profile.Model{}, fmt.Errorf("fitting %s/%s p50: %w", k, comp, err)
	}
	p99, p99Fit, err := profile.FitLinear(s.p99)
	if err != nil {
		return profile.Model{}, fmt.Errorf("fitting %s/%s p99: %w", k, comp, err)
	}
	return profile.Model{
		Key:                 k,
		Component:           comp,
		LatencyP50Micros:    p50,
		LatencyP99Micros:    p99,
		CPUMicrosPerRequest: cpu,
		Fit:                 &cpuFit,
		Note: fmt.Sprintf("fit is the CPU fit; latency R² p50 %.2f, p99 %.2f; %d sizes at %g req/s",
			p50Fit.R2, p99Fit.R2, cpuFit.Samples, lowest),
	}, nil
}

func allZero(series ...[]profile.Point) bool {
	for _, s := range series {
		for _, pt := range s {
			if pt.Value != 0 {
				return false
			}
		}
	}
	return true
}

// rateCurve computes rate factors: per rate, the median over variants and
// sizes of value (CPU per request, added latency) relative to the lowest
// rate. Cells whose value is not a positive number are left out.
func rateCurve(ms []Measurement, lowest float64, value func(Measurement) float64) (profile.RateCurve, bool) {
	type variant struct {
		protocol string
		mtls     bool
		bytes    int
	}
	base := map[variant]float64{}
	for _, m := range ms {
		if m.RatePerSecond == lowest {
			base[variant{m.Protocol, m.MTLS, m.Bytes}] = value(m)
		}
	}
	ratios := map[float64][]float64{}
	for _, m := range ms {
		b := base[variant{m.Protocol, m.MTLS, m.Bytes}]
		if !(b > 0) {
			continue
		}
		if r := value(m) / b; r > 0 && !math.IsInf(r, 0) {
			ratios[m.RatePerSecond] = append(ratios[m.RatePerSecond], r)
		}
	}
	if len(ratios) == 0 {
		return profile.RateCurve{}, false
	}
	curve := profile.RateCurve{Mode: Mode}
	for rate, rs := range ratios {
		curve.Points = append(curve.Points, profile.RatePoint{RequestsPerSecond: rate, Factor: spread.Of(rs).Median})
	}
	sort.Slice(curve.Points, func(i, j int) bool {
		return curve.Points[i].RequestsPerSecond < curve.Points[j].RequestsPerSecond
	})
	return curve, true
}

// Worker threads of the proxies measured: the local datapath runs its
// proxies with one (datapath's default); a cluster's sidecars run Istio's
// default proxy concurrency, 2, which the agent does not read from the pod.
const (
	localProxyThreads   = 1
	clusterProxyThreads = 2
)

// operatingPoint is where the models were measured: the reference (lowest)
// rate through each proxy, and its worker threads.
func operatingPoint(ms []Measurement, inCluster bool) *profile.OperatingPoint {
	lowest := math.Inf(1)
	for _, m := range ms {
		lowest = math.Min(lowest, m.RatePerSecond)
	}
	if math.IsInf(lowest, 1) || lowest <= 0 {
		return nil
	}
	op := &profile.OperatingPoint{RequestsPerSecond: lowest, ProxyThreads: localProxyThreads}
	if inCluster {
		op.ProxyThreads = clusterProxyThreads
	}
	return op
}
