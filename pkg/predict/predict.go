// Package predict is the overhead model: it combines a profile with a call graph and
// predicts, per edge and per proxy, the latency and CPU the mesh adds, split by
// proxy component; end-to-end along paths from entry points; along the
// critical paths of distributed traces (PredictTraces, on a graph built from
// the calls pkg/traces found); and for what-if variants of the graph. It is
// pure computation: no I/O, no Kubernetes clients.
//
// Units are in the names: Micros are microseconds, CPUMicrosPerRequest is CPU time
// in µs per request, Millicores are thousandths of a core (1 core = 1e6 CPU-µs per
// second).
package predict

import (
	"fmt"
	"math"
	"sort"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// FanOut says how the calls one request causes combine into end-to-end latency.
type FanOut string

const (
	// Sequential adds every downstream call (an upper bound: calls made one after
	// another).
	Sequential FanOut = "sequential"
	// Parallel takes the slowest downstream call (calls made concurrently).
	Parallel FanOut = "parallel"
)

// Options tune a prediction.
type Options struct {
	FanOut FanOut
	// Speedups divide a component's latency and CPU (MeshInsight's what-if of a
	// faster component): 2 means twice as fast.
	Speedups map[profile.Component]float64
	// NodeProfiles are per-node-type profiles: the proxies of a workload
	// whose NodeType has one are predicted with it, the others with the
	// default profile.
	NodeProfiles map[string]*profile.Profile
	// NoMemory leaves the proxies' memory out (and the notes about it), for
	// reports that do not show it.
	NoMemory bool
	// Queueing adds each sidecar's queueing wait to the p99 (see
	// queueing.go).
	Queueing bool
}

// cpuMicrosPerSecondPerMillicore converts CPU-µs per second into millicores:
// 1 core = 1e6 CPU-µs/s, so 1 millicore = 1e3 CPU-µs/s.
const cpuMicrosPerSecondPerMillicore = 1e3

// MillicoresFromRate converts a rate and a CPU cost per request into millicores.
func MillicoresFromRate(requestsPerSecond, cpuMicrosPerRequest float64) float64 {
	return requestsPerSecond * cpuMicrosPerRequest / cpuMicrosPerSecondPerMillicore
}

var componentIndex = func() map[profile.Component]int {
	m := make(map[profile.Component]int, len(profile.Components))
	for i, c := range profile.Components {
		m[c] = i
	}
	return m
}()

const nComponents = 10

// costs.compUnranged holds one bit per component: this fails to compile
// when the components outgrow it.
const _ = uint16(1 << (nComponents - 1))

// costs accumulates per-component figures, and the low and high ends of
// their totals and of each component's (p50, p99, CPU) from the models'
// ranges.
type costs struct {
	p50, p99, cpu [nComponents]float64
	low, high     [3]float64
	// comp holds each component's ends, allocated at the first term with a
	// range (never with the reference profile: large graphs stay small);
	// compUnranged has bit i set when component i had a term without one.
	comp         *componentEnds
	compUnranged uint16
	// unranged is set when a term came from a model without a range,
	// ranged when one came from a model with one.
	unranged, ranged bool
	// service is the CPU-µs per request of the models added, at the
	// profile's operating point (no rate factor, tries or features): the
	// crossing's service time for the queueing term.
	service float64
}

// componentEnds are the low and high ends (p50, p99, CPU) of each
// component's figures.
type componentEnds struct {
	low, high [nComponents][3]float64
}

// ends returns c's component ends, allocating them on first use.
func (c *costs) ends() *componentEnds {
	if c.comp == nil {
		c.comp = new(componentEnds)
	}
	return c.comp
}

// term adds one component's p50, p99 and CPU with their relative bounds
// (nil: unknown, counted as exact and marked). The p99 is never below the
// p50: a latency rate factor above 1 scales the p50 but not the profile's
// p99, and a p99 below the p50 is no percentile.
func (c *costs) term(i int, p50, p99, cpu float64, r *profile.Range) {
	p99 = max(p99, p50)
	c.p50[i] += p50
	c.p99[i] += p99
	c.cpu[i] += cpu
	b := [3]profile.Bounds{profile.Exact, profile.Exact, profile.Exact}
	if r != nil {
		b = [3]profile.Bounds{r.LatencyP50, r.LatencyP99, r.CPU}
		c.ranged = true
	} else {
		c.unranged = true
		c.compUnranged |= 1 << i
	}
	for j, v := range [3]float64{p50, p99, cpu} {
		c.low[j] += v * b[j].Low
		c.high[j] += v * b[j].High
	}
	if r != nil {
		e := c.ends()
		for j, v := range [3]float64{p50, p99, cpu} {
			e.low[i][j] += v * b[j].Low
			e.high[i][j] += v * b[j].High
		}
	}
}

// merge adds o's figures into c.
func (c *costs) merge(o *costs) {
	for j := range nComponents {
		c.p50[j] += o.p50[j]
		c.p99[j] += o.p99[j]
		c.cpu[j] += o.cpu[j]
	}
	if o.comp != nil {
		e := c.ends()
		for j := range nComponents {
			for k := range 3 {
				e.low[j][k] += o.comp.low[j][k]
				e.high[j][k] += o.comp.high[j][k]
			}
		}
	}
	c.compUnranged |= o.compUnranged
	for j := range 3 {
		c.low[j] += o.low[j]
		c.high[j] += o.high[j]
	}
	c.unranged = c.unranged || o.unranged
	c.ranged = c.ranged || o.ranged
}

// wait adds a queueing wait (µs, known exactly given the load) to
// component i's p99.
func (c *costs) wait(i int, micros float64) {
	c.p99[i] += micros
	c.low[1] += micros
	c.high[1] += micros
	if c.comp != nil {
		c.comp.low[i][1] += micros
		c.comp.high[i][1] += micros
	}
}

// mergeCPU adds o's CPU figures into c.
func (c *costs) mergeCPU(o *costs) {
	for j := range nComponents {
		c.cpu[j] += o.cpu[j]
	}
	if o.comp != nil {
		e := c.ends()
		for j := range nComponents {
			e.low[j][2] += o.comp.low[j][2]
			e.high[j][2] += o.comp.high[j][2]
		}
	}
	c.compUnranged |= o.compUnranged
	c.low[2] += o.low[2]
	c.high[2] += o.high[2]
	c.unranged = c.unranged || o.unranged
	c.ranged = c.ranged || o.ranged
}

// ranges reports c's totals' ranges, nil when a term had none.
func (c *costs) ranges() (p50, p99, cpu *Interval) {
	if c.unranged {
		return nil, nil, nil
	}
	return &Interval{c.low[0], c.high[0]}, &Interval{c.low[1], c.high[1]}, &Interval{c.low[2], c.high[2]}
}

func (c *costs) zero(i int) bool { return c.p50[i] == 0 && c.p99[i] == 0 && c.cpu[i] == 0 }

func (c *costs) total() (p50, p99, cpu float64) {
	for i := range nComponents {
		p50 += c.p50[i]
		p99 += c.p99[i]
		cpu += c.cpu[i]
	}
	return
}

// traversal is one crossing of one proxy (one leg of a waypoint) by one
// call, both directions.
type traversal struct {
	mode  dataplane.Mode
	side  profile.Side
	proxy int32 // index into the proxies table
	// workload is the workload whose node type's profile costs this
	// crossing of a ztunnel, or -1 for the row's profile.
	workload int32
	// once: the crossing comes before the proxy that retries, so it
	// carries each request once, not the edge's expected tries; mirror:
	// mirrored copies leave through it (the routing L7 proxy's outbound
	// leg); features: the server-side filters run here; traces: this L7
	// proxy records a span (once per proxy, not per leg).
	once, mirror, features, traces bool
}

// tries is how many times the crossing carries each request of e.
func (t traversal) tries(e *callgraph.ResolvedEdge) float64 {
	if t.once {
		return 1
	}
	return e.ExpectedTries
}

// model evaluates a profile; it caches key resolution and fallbacks.
type model struct {
	prof     *profile.Profile
	idx      *profile.Index
	speedups [nComponents]float64
	resolved map[profile.Key]source
	// borrowed holds, for a mode the profile has no model of, the reference
	// profile's models and the scale applied to them (see borrow).
	borrowed map[dataplane.Mode]*source
	notes    *diag.List
}

// source is where a traversal's models come from: an index, the key in it,
// and the factors its latency p50, p99 and CPU are multiplied by (1 for the
// profile's own models).
type source struct {
	idx   *profile.Index
	key   profile.Key
	scale [3]float64
}

// found reports whether the source has models.
func (s source) found() bool { return s.idx != nil }

func newModel(p *profile.Profile, speedups map[profile.Component]float64, notes *diag.List) (*model, error) {
	m := &model{prof: p, idx: profile.NewIndex(p), resolved: make(map[profile.Key]source), notes: notes}
	for i := range m.speedups {
		m.speedups[i] = 1
	}
	for c, f := range speedups {
		i, ok := componentIndex[c]
		if !ok {
			return nil, fmt.Errorf("speed-up for unknown component %q", c)
		}
		if err := checkSpeedup(f); err != nil {
			return nil, fmt.Errorf("speed-up for %q: %w", c, err)
		}
		m.speedups[i] = f
	}
	return m, nil
}

// fallbackProtocols is where to look when a profile lacks a protocol.
var fallbackProtocols = map[dataplane.Protocol][]dataplane.Protocol{
	dataplane.GRPC:  {dataplane.HTTP2, dataplane.HTTP, dataplane.TCP},
	dataplane.HTTP2: {dataplane.GRPC, dataplane.HTTP, dataplane.TCP},
	dataplane.HTTP:  {dataplane.HTTP2, dataplane.GRPC, dataplane.TCP},
	dataplane.TCP:   {dataplane.HTTP, dataplane.HTTP2, dataplane.GRPC},
}

// resolve finds the models the profile has for want, noting any fallback:
// another protocol or mTLS setting of the same mode, else the reference
// profile's models of that mode as borrowed (see borrow).
func (m *model) resolve(want profile.Key, subject string) source {
	if s, ok := m.resolved[want]; ok {
		return s
	}
	own := source{idx: m.idx, scale: [3]float64{1, 1, 1}}
	if k, ok := lookup(m.idx, want); ok {
		own.key = k
		if k != want {
			m.notes.Add(diag.New(diag.ProfileFallback, string(want.Mode)+" proxy",
				"profile %q has no model for %s; used %s", m.prof.Metadata.Name, want.Variant(), k.Variant()))
		}
		m.resolved[want] = own
		return own
	}
	if b := m.borrowed[want.Mode]; b != nil {
		if k, ok := lookup(b.idx, want); ok {
			s := *b
			s.key = k
			m.resolved[want] = s
			return s
		}
	}
	m.resolved[want] = source{}
	m.notes.Add(diag.New(diag.ProfileFallback, subject,
		"profile %q has no model for %s proxies; their overhead is counted as zero", m.prof.Metadata.Name, want.Mode))
	return source{}
}

// lookup finds want in idx, or the nearest key it has: the same mTLS setting
// before the other, the same protocol before related ones.
func lookup(idx *profile.Index, want profile.Key) (profile.Key, bool) {
	for _, mtls := range []bool{want.MTLS, !want.MTLS} {
		for _, proto := range append([]dataplane.Protocol{want.Protocol}, fallbackProtocols[want.Protocol]...) {
			k := want
			k.MTLS, k.Protocol = mtls, proto
			if idx.Has(k) {
				return k, true
			}
		}
	}
	return profile.Key{}, false
}

// add accumulates one traversal direction at a message size into c. cpuScale
// multiplies CPU (rate factor × tries); p99Scale multiplies p99 latency
// (tries) and p50Scale the p50 (tries × latency rate factor).
func (m *model) add(c *costs, s source, bytes, p99Scale, p50Scale, cpuScale float64) {
	for _, md := range s.idx.Models(s.key) {
		i := componentIndex[md.Component]
		sp := m.speedups[i]
		r := md.Range
		if s.idx != m.idx {
			r = nil // borrowed: the scale rule's own uncertainty is unknown
		}
		cpu := md.CPUMicrosPerRequest.At(bytes) * s.scale[2] / sp
		c.service += cpu
		c.term(i, md.LatencyP50Micros.At(bytes)*p50Scale*s.scale[0]/sp,
			md.LatencyP99Micros.At(bytes)*p99Scale*s.scale[1]/sp, cpu*cpuScale, r)
	}
}

// Predict computes the scenario for a resolved graph. Messages about assumptions
// are added to notes.
func Predict(g *callgraph.Resolved, p *profile.Profile, opts Options, notes *diag.List) (*Scenario, error) {
	m, err := newModel(p, opts.Speedups, notes)
	if err != nil {
		return nil, err
	}
	if opts.FanOut == "" {
		opts.FanOut = Sequential
	}
	nWorkloads := len(g.Workloads)
	g, ingress, nEdges := withIngress(g, notes)
	pt := newProxyTable(g, p)
	models := map[*profile.Profile]*model{p: m}
	if len(opts.NodeProfiles) > 0 {
		pt.nodeProfiles = opts.NodeProfiles
		for _, np := range opts.NodeProfiles {
			if models[np] == nil {
				if models[np], err = newModel(np, opts.Speedups, notes); err != nil {
					return nil, err
				}
			}
		}
	}
	trav, mtlsOn := pt.route(g, notes)
	for _, mm := range models {
		if err := mm.borrowMissing(trav); err != nil {
			return nil, err
		}
	}
	pt.finishRates(notes)
	pt.noteExtrapolation(g, trav, notes)

	sc := &Scenario{Edges: make([]EdgeResult, len(g.Edges))}
	// One backing array for every edge's components: far fewer allocations on
	// large graphs. Full slice expressions keep edges from sharing capacity.
	compBuf := make([]ComponentCost, 0, len(g.Edges)*len(profile.Components))
	edgeCosts, proxyCosts, total := pt.costAll(g, models, trav, mtlsOn, opts.Queueing, notes)
	for i := range g.Edges {
		e := &g.Edges[i]
		c := &edgeCosts[i]
		wp := g.EdgeWaypoint(e)
		if len(e.Filters) > 0 && g.Workloads[e.ToIndex].Inbound != dataplane.Sidecar && wp == "" {
			notes.Add(diag.New(diag.L7FeatureWithoutProxy, e.Name(), "filters %v need an L7 proxy on the server side (mode %s)", e.Filters, g.Workloads[e.ToIndex].Mode))
		}
		sc.Edges[i], compBuf = edgeResult(g, e, wp, mtlsOn[i], c, compBuf)
	}
	pt.noMemory = opts.NoMemory
	sc.Proxies = pt.results(proxyCosts, notes)
	pt.noteNodeTypes(notes)
	sc.Paths = pathsWithRanges(g, sc.Edges, ingress, opts.FanOut, notes)
	if ingress != nil {
		sc.Edges, sc.Ingress = sc.Edges[:nEdges:nEdges], sc.Edges[nEdges:]
	}
	sc.Totals = totals(sc, &total, nWorkloads)
	if total.unranged && total.ranged {
		notes.Add(diag.New(diag.NoRanges, "", "some figures come from models without a measured spread; they have no range"))
	}
	return sc, nil
}

// costAll costs every crossing of every edge: per edge (latency and CPU),
// per proxy row and in total (CPU); with queueing, each crossing then gets
// its sidecar's queueing wait, which needs every row's CPU first.
func (pt *proxyTable) costAll(g *callgraph.Resolved, models map[*profile.Profile]*model, trav [][]traversal, mtlsOn []bool,
	queueing bool, notes *diag.List) (edgeCosts, proxyCosts []costs, total costs) {
	proxyCosts = make([]costs, len(pt.rows))
	edgeCosts = make([]costs, len(g.Edges))
	// service holds every crossing's service time, edge by edge in trav's
	// order, for the queueing term.
	var service []float64
	for i := range g.Edges {
		e := &g.Edges[i]
		c := &edgeCosts[i]
		for _, t := range trav[i] {
			pc := traversalCosts(models[pt.crossingProfile(t)], e, t, mtlsOn[i], pt.rows[t.proxy])
			c.merge(&pc)
			proxyCosts[t.proxy].mergeCPU(&pc)
			total.mergeCPU(&pc)
			if queueing {
				service = append(service, pc.service)
			}
		}
	}
	if queueing {
		q := newQueueing(pt, proxyCosts, notes)
		k := 0
		for i := range g.Edges {
			for _, t := range trav[i] {
				q.add(&edgeCosts[i], t.proxy, pt.crossingProfile(t), service[k], t.tries(&g.Edges[i]))
				k++
			}
		}
	}
	return edgeCosts, proxyCosts, total
}

// route assigns every edge's traversals to proxy rows and adds the edge's
// rate to each, and decides whether mTLS is in effect on each edge. A
// waypoint's rate is counted on the leg it forwards, once per request.
func (pt *proxyTable) route(g *callgraph.Resolved, notes *diag.List) (trav [][]traversal, mtlsOn []bool) {
	trav = make([][]traversal, len(g.Edges))
	travBuf := make([]traversal, 0, 4*len(g.Edges))
	mtlsOn = make([]bool, len(g.Edges))
	for i := range g.Edges {
		e := &g.Edges[i]
		client, server := g.Workloads[e.FromIndex], g.Workloads[e.ToIndex]
		mtlsOn[i] = effectiveMTLS(e, client.Outbound, server.Inbound, notes)
		start := len(travBuf)
		travBuf = pt.traversals(travBuf, g, e, notes)
		trav[i] = travBuf[start:len(travBuf):len(travBuf)]
		for _, t := range trav[i] {
			if t.mode == dataplane.Waypoint && t.side == profile.Inbound {
				continue
			}
			r := e.RequestsPerSecond * t.tries(e)
			if t.mirror {
				r += e.RequestsPerSecond * e.MirrorFraction
			}
			pt.rows[t.proxy].rps += r
		}
	}
	pt.idleSidecars(g)
	return trav, mtlsOn
}

// traversalCosts is what one crossing of proxy row by edge e costs, both
// directions: latency per request, CPU in millicores at the edge's rate.
func traversalCosts(m *model, e *callgraph.ResolvedEdge, t traversal, mtls bool, row proxyRow) costs {
	var pc costs
	proto := e.Protocol
	if t.mode == dataplane.Ambient {
		proto = dataplane.TCP // ztunnel is L4 only
	}
	tries := t.tries(e)
	cpuMult := tries
	if t.mirror {
		cpuMult += e.MirrorFraction // mirrored copies leave through the L7 proxy that routes
	}
	want := profile.Key{Mode: t.mode, Protocol: proto, MTLS: mtls, Side: t.side}
	for _, dir := range []profile.Direction{profile.Request, profile.Response} {
		want.Direction = dir
		s := m.resolve(want, e.Name())
		if !s.found() {
			continue
		}
		bytes := e.RequestBytes
		if dir == profile.Response {
			bytes = e.ResponseBytes
		}
		m.add(&pc, s, bytes, tries, tries*row.latency, cpuMult*row.factor)
	}
	if t.features {
		m.addFeatures(&pc, e, tries, tries*row.factor)
	}
	if t.traces && e.TracingFraction > 0 {
		m.addFeature(&pc, e, "tracing", e.TracingFraction*tries, e.TracingFraction*tries*row.factor)
	}
	for j := range nComponents {
		pc.cpu[j] = MillicoresFromRate(e.RequestsPerSecond, pc.cpu[j])
		if pc.comp != nil {
			pc.comp.low[j][2] = MillicoresFromRate(e.RequestsPerSecond, pc.comp.low[j][2])
			pc.comp.high[j][2] = MillicoresFromRate(e.RequestsPerSecond, pc.comp.high[j][2])
		}
	}
	pc.low[2] = MillicoresFromRate(e.RequestsPerSecond, pc.low[2])
	pc.high[2] = MillicoresFromRate(e.RequestsPerSecond, pc.high[2])
	return pc
}

// addFeatures adds the costs of an edge's filters at the server's L7 proxy.
func (m *model) addFeatures(c *costs, e *callgraph.ResolvedEdge, latScale, cpuScale float64) {
	for _, name := range e.Filters {
		m.addFeature(c, e, name, latScale, cpuScale)
	}
}

func (m *model) addFeature(c *costs, e *callgraph.ResolvedEdge, name string, latScale, cpuScale float64) {
	f, ok := m.prof.Feature(name)
	if !ok {
		m.notes.Add(diag.New(diag.FeatureNotProfiled, e.Name(), "profile %q has no cost for feature %q; counted as zero", m.prof.Metadata.Name, name))
		return
	}
	i := componentIndex[profile.Filters]
	s := m.speedups[i]
	c.term(i, f.LatencyP50Micros.At(e.RequestBytes)*latScale/s, f.LatencyP99Micros.At(e.RequestBytes)*latScale/s,
		f.CPUMicrosPerRequest.At(e.RequestBytes)*cpuScale/s, nil)
}

// effectiveMTLS is the edge's mTLS after checking both sides can do it, from
// the client's outbound and the server's inbound path: none without a proxy
// on both sides, always with ambient on either side (HBONE).
func effectiveMTLS(e *callgraph.ResolvedEdge, client, server dataplane.Mode, notes *diag.List) bool {
	if !client.Meshed() || !server.Meshed() {
		if e.MTLSRequested {
			side := "server"
			if !client.Meshed() {
				side = "client"
			}
			notes.Add(diag.New(diag.MTLSImpossible, e.Name(), "mtls requested but the %s has no proxy; treated as plaintext", side))
		}
		return false
	}
	if client == dataplane.Ambient || server == dataplane.Ambient {
		if !e.MTLSRequested && e.MTLSExplicit {
			notes.Add(diag.New(diag.AmbientAlwaysMTLS, e.Name(), "mtls: false ignored: ambient traffic is always mTLS (HBONE)"))
		}
		return true
	}
	return e.MTLSRequested
}

// edgeResult reports edge e: the client's outbound path as ClientMode; the
// server's inbound path as ServerMode, waypoint when the call crosses
// waypoint wp.
func edgeResult(g *callgraph.Resolved, e *callgraph.ResolvedEdge, wp string, mtls bool, c *costs, buf []ComponentCost) (EdgeResult, []ComponentCost) {
	client, server := &g.Workloads[e.FromIndex], &g.Workloads[e.ToIndex]
	r := EdgeResult{
		From: client.ID(), To: server.ID(), Protocol: e.Protocol, MTLS: mtls,
		ClientMode: client.Outbound, ServerMode: server.Inbound, Waypoint: wp,
		RequestsPerSecond: e.RequestsPerSecond, RequestBytes: e.RequestBytes, ResponseBytes: e.ResponseBytes,
	}
	if wp != "" {
		r.ServerMode = dataplane.Waypoint
	}
	r.LatencyP50Micros, r.LatencyP99Micros, r.CPUMillicores = c.total()
	if p50, p99, cpu := c.ranges(); p50 != nil {
		r.Range = &Range{LatencyP50Micros: p50, LatencyP99Micros: p99, CPUMillicores: cpu}
	}
	start := len(buf)
	buf = appendComponents(buf, c)
	r.Components = buf[start:len(buf):len(buf)]
	if len(r.Components) > 0 {
		top := r.Components[0]
		for _, cc := range r.Components[1:] {
			if cc.LatencyP50Micros > top.LatencyP50Micros {
				top = cc
			}
		}
		r.TopComponent = top.Component
	}
	return r, buf
}

// appendComponents appends the non-zero components in display order.
func appendComponents(out []ComponentCost, c *costs) []ComponentCost {
	for i, comp := range profile.Components {
		if c.zero(i) {
			continue
		}
		cc := ComponentCost{Component: string(comp), LatencyP50Micros: c.p50[i], LatencyP99Micros: c.p99[i], CPUMillicores: c.cpu[i]}
		if c.comp != nil && c.compUnranged&(1<<i) == 0 {
			lo, hi := c.comp.low[i], c.comp.high[i]
			// One allocation for the range and its three intervals.
			r := &struct {
				Range
				ends [3]Interval
			}{ends: [3]Interval{{lo[0], hi[0]}, {lo[1], hi[1]}, {lo[2], hi[2]}}}
			r.Range = Range{LatencyP50Micros: &r.ends[0], LatencyP99Micros: &r.ends[1], CPUMillicores: &r.ends[2]}
			cc.Range = &r.Range
		}
		out = append(out, cc)
	}
	return out
}

// totals sums a scenario of the graph's edges (not its ingress) and
// workloads; c holds every crossing's CPU.
func totals(sc *Scenario, c *costs, workloads int) Totals {
	t := Totals{Edges: len(sc.Edges), Workloads: workloads}
	for _, e := range sc.Edges {
		t.RequestsPerSecond += e.RequestsPerSecond
	}
	_, _, t.CPUMillicores = c.total()
	for _, p := range sc.Proxies {
		t.MemoryMiB += p.MemoryMiB
	}
	var p50, p99 *Interval
	ranged := !c.unranged
	for _, p := range sc.Paths {
		t.MaxPathLatencyP50Micros = math.Max(t.MaxPathLatencyP50Micros, p.LatencyP50Micros)
		t.MaxPathLatencyP99Micros = math.Max(t.MaxPathLatencyP99Micros, p.LatencyP99Micros)
		if p.Range == nil {
			ranged = false
			continue
		}
		p50, p99 = p50.max(p.Range.LatencyP50Micros), p99.max(p.Range.LatencyP99Micros)
	}
	if ranged {
		_, _, cpu := c.ranges()
		t.Range = &Range{LatencyP50Micros: p50, LatencyP99Micros: p99, CPUMillicores: cpu}
	}
	best := 0.0
	for i, comp := range profile.Components {
		if c.cpu[i] > best {
			best, t.TopComponent = c.cpu[i], string(comp)
		}
	}
	return t
}

// sortProxies orders proxies by CPU, largest first.
func sortProxies(ps []ProxyResult) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].CPUMillicores > ps[j].CPUMillicores })
}
