package predict

import (
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

func TestParseWhatIf(t *testing.T) {
	good := map[string]func(WhatIf) bool{
		"mtls=off":                         func(w WhatIf) bool { return w.MTLS != nil && !*w.MTLS },
		"mtls=on, edge=a->b":               func(w WhatIf) bool { return *w.MTLS && w.Edge == "a->b" },
		"mode=ambient,namespace=shop":      func(w WhatIf) bool { return w.Mode == dataplane.Ambient && w.Namespace == "shop" },
		"protocol=grpc,workload=ns/a":      func(w WhatIf) bool { return w.Protocol == dataplane.GRPC && w.Workload == "ns/a" },
		"mode=none,protocol=tcp,mtls=true": func(w WhatIf) bool { return w.Mode == dataplane.None && w.Protocol == dataplane.TCP && *w.MTLS },
		"scope=namespace,namespace=shop":   func(w WhatIf) bool { return w.Scope == ScopeNamespace && w.Namespace == "shop" },
	}
	for in, check := range good {
		w, err := ParseWhatIf(in)
		if err != nil || !check(w) {
			t.Errorf("%q: %+v, %v", in, w, err)
		}
	}
	bad := map[string]string{
		"":                               "empty what-if",
		"mtls":                           "not key=value",
		"mtls=maybe":                     "want on or off",
		"mode=mesh":                      "unknown data-plane mode",
		"protocol=udp":                   "unknown protocol",
		"edge=a->b":                      "nothing to change",
		"mtls=off,edge=ab":               "want edge=FROM->TO",
		"mtls=off,colour=blue":           "unknown key",
		"mtls=off,edge=a->b,namespace=x": "at most one of",
		"mode=ambient,edge=a->b":         "mode applies to workloads",
		"scope=all":                      "want namespace or observed",
		"scope=observed,edge=a->b":       "scope applies to workloads",
	}
	for in, want := range bad {
		if _, err := ParseWhatIf(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", in, err, want)
		}
	}
}

func whatIfGraph(t *testing.T) *callgraph.Resolved {
	t.Helper()
	g := &callgraph.Graph{APIVersion: callgraph.APIVersion, Kind: callgraph.Kind,
		Workloads: []callgraph.Workload{
			{Name: "a", Namespace: "x", Mode: "sidecar"}, {Name: "b", Namespace: "x", Mode: "sidecar"}, {Name: "c", Namespace: "y", Mode: "none"}},
		Edges: []callgraph.Edge{
			{From: "a", To: "b", Protocol: "http", RequestsPerSecond: ptr(100.0), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)},
			{From: "b", To: "c", Protocol: "http", RequestsPerSecond: ptr(100.0), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)},
		}}
	return resolved(t, g)
}

func TestApplyWhatIf(t *testing.T) {
	g := whatIfGraph(t)
	var notes diag.List
	v := Apply(g, []WhatIf{mustWhatIf(t, "protocol=grpc,edge=a->b")}, &notes)
	if v.Edges[0].Protocol != dataplane.GRPC || v.Edges[1].Protocol != dataplane.HTTP {
		t.Errorf("edge selector: %v %v", v.Edges[0].Protocol, v.Edges[1].Protocol)
	}
	if g.Edges[0].Protocol != dataplane.HTTP {
		t.Error("Apply changed its input")
	}
	// Moving namespace y into the mesh turns auto mTLS on for b->c.
	v = Apply(g, []WhatIf{mustWhatIf(t, "mode=sidecar,namespace=y")}, &notes)
	if v.Workloads[2].Mode != dataplane.Sidecar || !v.Edges[1].MTLSRequested {
		t.Errorf("namespace selector: %+v %+v", v.Workloads[2], v.Edges[1])
	}
	// A workload selector picks the edges touching it.
	v = Apply(g, []WhatIf{mustWhatIf(t, "mtls=off,workload=x/a")}, &notes)
	if v.Edges[0].MTLSRequested || !v.Edges[0].MTLSExplicit || v.Edges[1].MTLSExplicit {
		t.Errorf("workload selector: %+v %+v", v.Edges[0], v.Edges[1])
	}
	if notes.Len() != 0 {
		t.Errorf("unexpected notes: %v", notes.Sorted())
	}
	Apply(g, []WhatIf{mustWhatIf(t, "mtls=off,edge=a->nobody")}, &notes)
	if !diag.Has(notes.Sorted(), diag.WhatIfNoMatch, "") {
		t.Error("a selector matching nothing was not reported")
	}
}

// TestRunWhatIfDelta checks that turning mTLS off saves exactly the mTLS increment
// of the test profile (5 µs per traversal and direction).
func TestRunWhatIfDelta(t *testing.T) {
	r, err := Run(Input{Graph: whatIfGraph(t), Profile: testProfile(t), ProfileSource: "test", WhatIf: []WhatIf{mustWhatIf(t, "mtls=off")}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Variant == nil || len(r.Variant.Edges) != len(r.Baseline.Edges) {
		t.Fatalf("variant = %+v", r.Variant)
	}
	a2b := r.Baseline.Edges[0].LatencyP50Micros - r.Variant.Edges[0].LatencyP50Micros
	near(t, "a->b p50 saved", a2b, 2*2*5)
	near(t, "a->b cpu saved", r.Baseline.Edges[0].CPUMillicores-r.Variant.Edges[0].CPUMillicores, 100*(2*2*10)/1000.0)
	near(t, "b->c (plaintext already) unchanged", r.Variant.Edges[1].LatencyP50Micros, r.Baseline.Edges[1].LatencyP50Micros)
	if strings.Join(r.WhatIf, ";") != "mtls=off" {
		t.Errorf("whatIf = %v", r.WhatIf)
	}
}

func TestRunSpeedupVariant(t *testing.T) {
	r, err := Run(Input{Graph: whatIfGraph(t), Profile: testProfile(t), Speedups: map[profile.Component]float64{profile.Parsing: 2}})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "halved", r.Variant.Totals.CPUMillicores, r.Baseline.Totals.CPUMillicores/2)
	if len(r.WhatIf) != 1 || r.WhatIf[0] != "speedup parsing=2" {
		t.Errorf("whatIf = %v", r.WhatIf)
	}
}

func TestParseSpeedups(t *testing.T) {
	s, err := ParseSpeedups("s.yaml", []byte("parsing: 2\ntls: 1.5\n"))
	if err != nil || s[profile.Parsing] != 2 || s[profile.TLS] != 1.5 {
		t.Fatalf("%v %v", s, err)
	}
	for in, want := range map[string]string{
		"":            "no components",
		"parsng: 2":   "unknown component",
		"parsing: 0":  "outside 0.001 to 1000",
		"parsing: -1": "outside 0.001 to 1000",
		"- 1":         "want a mapping",
	} {
		if _, err := ParseSpeedups("s.yaml", []byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
