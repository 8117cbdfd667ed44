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

// costs accumulates per-component figures.
type costs struct {
	p50, p99, cpu [nComponents]float64
}

func (c *costs) zero(i int) bool { return c.p50[i] == 0 && c.p99[i] == 0 && c.cpu[i] == 0 }

func (c *costs) total() (p50, p99, cpu float64) {
	for i := range nComponents {
		p50 += c.p50[i]
		p99 += c.p99At(i)
		cpu += c.cpu[i]
	}
	return
}

// p99At is component i's p99, never below its p50: a latency rate factor
// above 1 scales the p50 but not the profile's p99, and a p99 below the p50
// is no percentile.
func (c *costs) p99At(i int) float64 { return max(c.p99[i], c.p50[i]) }

// traversal is one crossing of one proxy by one call, both directions.
type traversal struct {
	mode  dataplane.Mode
	side  profile.Side
	proxy int // index into the proxies table
	l7    bool
}

// model evaluates a profile; it caches key resolution and fallbacks.
type model struct {
	prof     *profile.Profile
	idx      *profile.Index
	speedups [nComponents]float64
	resolved map[profile.Key]profile.Key
	notes    *diag.List
}

func newModel(p *profile.Profile, speedups map[profile.Component]float64, notes *diag.List) (*model, error) {
	m := &model{prof: p, idx: profile.NewIndex(p), resolved: make(map[profile.Key]profile.Key), notes: notes}
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

// resolve finds the key the profile has for want, noting any fallback.
func (m *model) resolve(want profile.Key, subject string) (profile.Key, bool) {
	if k, ok := m.resolved[want]; ok {
		return k, k.Mode != ""
	}
	if m.idx.Has(want) {
		m.resolved[want] = want
		return want, true
	}
	candidates := []profile.Key{}
	for _, mtls := range []bool{want.MTLS, !want.MTLS} {
		for _, proto := range append([]dataplane.Protocol{want.Protocol}, fallbackProtocols[want.Protocol]...) {
			k := want
			k.MTLS, k.Protocol = mtls, proto
			candidates = append(candidates, k)
		}
	}
	for _, k := range candidates {
		if m.idx.Has(k) {
			m.resolved[want] = k
			m.notes.Add(diag.New(diag.ProfileFallback, string(want.Mode)+" proxy",
				"profile %q has no model for %s; used %s", m.prof.Metadata.Name, want.Variant(), k.Variant()))
			return k, true
		}
	}
	m.resolved[want] = profile.Key{}
	m.notes.Add(diag.New(diag.ProfileFallback, subject,
		"profile %q has no model for %s proxies; their overhead is counted as zero", m.prof.Metadata.Name, want.Mode))
	return profile.Key{}, false
}

// add accumulates one traversal direction at a message size into c. cpuScale
// multiplies CPU (rate factor × tries); p99Scale multiplies p99 latency
// (tries) and p50Scale the p50 (tries × latency rate factor).
func (m *model) add(c *costs, k profile.Key, bytes, p99Scale, p50Scale, cpuScale float64) {
	for _, md := range m.idx.Models(k) {
		i := componentIndex[md.Component]
		s := m.speedups[i]
		c.p50[i] += md.LatencyP50Micros.At(bytes) * p50Scale / s
		c.p99[i] += md.LatencyP99Micros.At(bytes) * p99Scale / s
		c.cpu[i] += md.CPUMicrosPerRequest.At(bytes) * cpuScale / s
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
	pt.finishRates(notes)
	pt.noteExtrapolation(g, trav, notes)

	sc := &Scenario{Edges: make([]EdgeResult, len(g.Edges))}
	// One backing array for every edge's components: far fewer allocations on
	// large graphs. Full slice expressions keep edges from sharing capacity.
	compBuf := make([]ComponentCost, 0, len(g.Edges)*len(profile.Components))
	proxyCosts := make([]costs, len(pt.rows))
	var total costs
	for i := range g.Edges {
		e := &g.Edges[i]
		client, server := g.Workloads[e.FromIndex], g.Workloads[e.ToIndex]
		var c costs
		for _, t := range trav[i] {
			pc := traversalCosts(models[pt.rows[t.proxy].prof], e, t, mtlsOn[i], pt.rows[t.proxy])
			for j := range nComponents {
				c.p50[j] += pc.p50[j]
				c.p99[j] += pc.p99[j]
				c.cpu[j] += pc.cpu[j]
				proxyCosts[t.proxy].cpu[j] += pc.cpu[j]
				total.cpu[j] += pc.cpu[j]
			}
		}
		if len(e.Filters) > 0 && server.Mode != dataplane.Sidecar && server.Mode != dataplane.Waypoint {
			notes.Add(diag.New(diag.L7FeatureWithoutProxy, e.Name(), "filters %v need an L7 proxy on the server side (mode %s)", e.Filters, server.Mode))
		}
		sc.Edges[i], compBuf = edgeResult(e, client, server, mtlsOn[i], &c, compBuf)
	}
	sc.Proxies = pt.results(proxyCosts, notes)
	pt.noteNodeTypes(notes)
	sc.Paths = paths(g, sc.Edges, ingress, opts.FanOut, notes)
	if ingress != nil {
		sc.Edges, sc.Ingress = sc.Edges[:nEdges:nEdges], sc.Edges[nEdges:]
	}
	sc.Totals = totals(sc, &total, nWorkloads)
	return sc, nil
}

// route assigns every edge's traversals to proxy rows and adds the edge's
// rate to each, and decides whether mTLS is in effect on each edge.
func (pt *proxyTable) route(g *callgraph.Resolved, notes *diag.List) (trav [][]traversal, mtlsOn []bool) {
	trav = make([][]traversal, len(g.Edges))
	travBuf := make([]traversal, 0, 4*len(g.Edges))
	mtlsOn = make([]bool, len(g.Edges))
	for i := range g.Edges {
		e := &g.Edges[i]
		client, server := g.Workloads[e.FromIndex], g.Workloads[e.ToIndex]
		mtlsOn[i] = effectiveMTLS(e, client.Mode, server.Mode, notes)
		start := len(travBuf)
		travBuf = pt.traversals(travBuf, e, client, server)
		trav[i] = travBuf[start:len(travBuf):len(travBuf)]
		for _, t := range trav[i] {
			r := e.RequestsPerSecond * e.ExpectedTries
			if t.l7 && t.side == profile.Outbound {
				r += e.RequestsPerSecond * e.MirrorFraction
			}
			pt.rows[t.proxy].rps += r
		}
	}
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
	tries := e.ExpectedTries
	cpuMult := tries
	if t.l7 && t.side == profile.Outbound {
		cpuMult += e.MirrorFraction // mirrored copies leave through the L7 proxy that routes
	}
	want := profile.Key{Mode: t.mode, Protocol: proto, MTLS: mtls, Side: t.side}
	for _, dir := range []profile.Direction{profile.Request, profile.Response} {
		want.Direction = dir
		k, ok := m.resolve(want, e.Name())
		if !ok {
			continue
		}
		bytes := e.RequestBytes
		if dir == profile.Response {
			bytes = e.ResponseBytes
		}
		m.add(&pc, k, bytes, tries, tries*row.latency, cpuMult*row.factor)
	}
	if t.l7 && t.side == profile.Inbound {
		m.addFeatures(&pc, e, tries*row.factor)
	}
	if t.l7 && e.TracingFraction > 0 {
		m.addFeature(&pc, e, "tracing", e.TracingFraction*tries, e.TracingFraction*tries*row.factor)
	}
	for j := range nComponents {
		pc.cpu[j] = MillicoresFromRate(e.RequestsPerSecond, pc.cpu[j])
	}
	return pc
}

// addFeatures adds the costs of an edge's filters at the server's L7 proxy.
func (m *model) addFeatures(c *costs, e *callgraph.ResolvedEdge, cpuScale float64) {
	for _, name := range e.Filters {
		m.addFeature(c, e, name, e.ExpectedTries, cpuScale)
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
	c.p50[i] += f.LatencyP50Micros.At(e.RequestBytes) * latScale / s
	c.p99[i] += f.LatencyP99Micros.At(e.RequestBytes) * latScale / s
	c.cpu[i] += f.CPUMicrosPerRequest.At(e.RequestBytes) * cpuScale / s
}

// effectiveMTLS is the edge's mTLS after checking both sides can do it: none
// without a proxy on both sides, always with ambient on either side (HBONE).
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
	if client != dataplane.Sidecar || server != dataplane.Sidecar {
		if !e.MTLSRequested && e.MTLSExplicit {
			notes.Add(diag.New(diag.AmbientAlwaysMTLS, e.Name(), "mtls: false ignored: ambient traffic is always mTLS (HBONE)"))
		}
		return true
	}
	return e.MTLSRequested
}

func edgeResult(e *callgraph.ResolvedEdge, client, server callgraph.ResolvedWorkload, mtls bool, c *costs, buf []ComponentCost) (EdgeResult, []ComponentCost) {
	r := EdgeResult{
		From: client.ID(), To: server.ID(), Protocol: e.Protocol, MTLS: mtls,
		ClientMode: client.Mode, ServerMode: server.Mode,
		RequestsPerSecond: e.RequestsPerSecond, RequestBytes: e.RequestBytes, ResponseBytes: e.ResponseBytes,
	}
	r.LatencyP50Micros, r.LatencyP99Micros, r.CPUMillicores = c.total()
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
		out = append(out, ComponentCost{Component: string(comp), LatencyP50Micros: c.p50[i], LatencyP99Micros: c.p99At(i), CPUMillicores: c.cpu[i]})
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
	for _, p := range sc.Paths {
		t.MaxPathLatencyP50Micros = math.Max(t.MaxPathLatencyP50Micros, p.LatencyP50Micros)
		t.MaxPathLatencyP99Micros = math.Max(t.MaxPathLatencyP99Micros, p.LatencyP99Micros)
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
