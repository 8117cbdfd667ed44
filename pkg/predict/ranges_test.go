package predict

import (
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// rangedProfile is testProfile with every sidecar model known to within
// p50 −10/+20%, p99 −30/+50%, CPU −5/+10%.
func rangedProfile(t *testing.T) *profile.Profile {
	p := testProfile(t)
	for i := range p.Models {
		if p.Models[i].Mode == "sidecar" {
			p.Models[i].Range = &profile.Range{
				LatencyP50: profile.Bounds{Low: 0.9, High: 1.2},
				LatencyP99: profile.Bounds{Low: 0.7, High: 1.5},
				CPU:        profile.Bounds{Low: 0.95, High: 1.1},
			}
		}
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

func within(t *testing.T, what string, got *Interval, point, low, high float64) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no range", what)
	}
	near(t, what+" low", got.Low, point*low)
	near(t, what+" high", got.High, point*high)
}

func TestRangesFollowTheModels(t *testing.T) {
	// a -> b -> c, sidecars everywhere: every term has the same relative
	// bounds, so every figure's range is the figure times them.
	g := &callgraph.Graph{APIVersion: callgraph.APIVersion, Kind: callgraph.Kind,
		Workloads: []callgraph.Workload{{Name: "a", Mode: "sidecar", RequestsPerSecond: ptr(100.0)}, {Name: "b", Mode: "sidecar"}, {Name: "c", Mode: "sidecar"}},
		Edges: []callgraph.Edge{{From: "a", To: "b", Protocol: "http", RequestsPerSecond: ptr(100.0)},
			{From: "b", To: "c", Protocol: "tcp", RequestsPerSecond: ptr(100.0)}}}
	sc, notes := run(t, g, rangedProfile(t))
	for _, e := range sc.Edges {
		within(t, e.Name()+" p50", e.Range.LatencyP50Micros, e.LatencyP50Micros, 0.9, 1.2)
		within(t, e.Name()+" p99", e.Range.LatencyP99Micros, e.LatencyP99Micros, 0.7, 1.5)
		within(t, e.Name()+" cpu", e.Range.CPUMillicores, e.CPUMillicores, 0.95, 1.1)
		if len(e.Components) == 0 {
			t.Errorf("%s: no components", e.Name())
		}
		for _, c := range e.Components {
			if c.Range == nil {
				t.Fatalf("%s %s: no range", e.Name(), c.Component)
			}
			within(t, e.Name()+" "+c.Component+" p50", c.Range.LatencyP50Micros, c.LatencyP50Micros, 0.9, 1.2)
			within(t, e.Name()+" "+c.Component+" p99", c.Range.LatencyP99Micros, c.LatencyP99Micros, 0.7, 1.5)
			within(t, e.Name()+" "+c.Component+" cpu", c.Range.CPUMillicores, c.CPUMillicores, 0.95, 1.1)
		}
	}
	for _, p := range sc.Proxies {
		within(t, p.Workload+" cpu", p.Range.CPUMillicores, p.CPUMillicores, 0.95, 1.1)
	}
	path := sc.Paths[0]
	within(t, "path p50", path.Range.LatencyP50Micros, path.LatencyP50Micros, 0.9, 1.2)
	within(t, "path p99", path.Range.LatencyP99Micros, path.LatencyP99Micros, 0.7, 1.5)
	within(t, "total cpu", sc.Totals.Range.CPUMillicores, sc.Totals.CPUMillicores, 0.95, 1.1)
	within(t, "worst path p50", sc.Totals.Range.LatencyP50Micros, sc.Totals.MaxPathLatencyP50Micros, 0.9, 1.2)
	for _, n := range notes {
		if n.Code == diag.NoRanges {
			t.Errorf("unexpected %s: every model has a range", n)
		}
	}
}

func TestRangesUnknownAreAbsent(t *testing.T) {
	e := callgraph.Edge{Protocol: "tcp", RequestsPerSecond: ptr(50.0)}
	// Without ranges in the profile: no range anywhere, and no note (the
	// reference profile's MI0007 says what it is).
	sc, notes := run(t, twoWorkloads("sidecar", "sidecar", e), testProfile(t))
	if sc.Edges[0].Range != nil || sc.Proxies[0].Range != nil || sc.Paths[0].Range != nil || sc.Totals.Range != nil {
		t.Errorf("ranges without any in the profile: %+v %+v %+v %+v", sc.Edges[0].Range, sc.Proxies[0].Range, sc.Paths[0].Range, sc.Totals.Range)
	}
	for _, c := range sc.Edges[0].Components {
		if c.Range != nil {
			t.Errorf("component %s has a range %+v without any in the profile", c.Component, c.Range)
		}
	}
	for _, n := range notes {
		if n.Code == diag.NoRanges {
			t.Errorf("unexpected %s", n)
		}
	}
	// Sidecar to ambient: the ztunnel models have no range, the sidecar's
	// do. The edge and the totals lose their range and MI0033 says why;
	// the sidecar keeps its own.
	sc, notes = run(t, twoWorkloads("sidecar", "ambient", e), rangedProfile(t))
	if sc.Edges[0].Range != nil || sc.Totals.Range != nil {
		t.Errorf("a term without range left ranges: edge %+v totals %+v", sc.Edges[0].Range, sc.Totals.Range)
	}
	// A component the ztunnel's models also cost loses its range; one only
	// the sidecar's models cost (L7 parsing) keeps it.
	unranged, parsing := 0, false
	for _, c := range sc.Edges[0].Components {
		if c.Range == nil {
			unranged++
		}
		parsing = parsing || c.Component == string(profile.Parsing) && c.Range != nil
	}
	if unranged == 0 || !parsing {
		t.Errorf("components %+v: want those the ztunnel costs without a range, parsing with one", sc.Edges[0].Components)
	}
	var sidecar *ProxyResult
	for i := range sc.Proxies {
		if sc.Proxies[i].Kind == KindSidecar {
			sidecar = &sc.Proxies[i]
		}
	}
	if sidecar == nil || sidecar.Range == nil {
		t.Errorf("the client sidecar lost its range: %+v", sc.Proxies)
	}
	found := false
	for _, n := range notes {
		found = found || n.Code == diag.NoRanges
	}
	if !found {
		t.Errorf("no %s note: %v", diag.NoRanges, notes)
	}
}
