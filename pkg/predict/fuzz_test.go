package predict

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// FuzzParseWhatIf: any --what-if text parses into a change that changes
// something, or fails with an error quoting it.
func FuzzParseWhatIf(f *testing.F) {
	for _, s := range []string{"mtls=off", "mode=ambient,namespace=shop", "protocol=grpc,edge=a->b", "mode=waypoint,workload=ns/x", "edge=->", ",,="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseWhatIf(s)
		if err != nil {
			return
		}
		if w.MTLS == nil && w.Mode == "" && w.Protocol == "" {
			t.Errorf("%q parsed into a change of nothing", s)
		}
		if n := boolInt(w.Edge != "") + boolInt(w.Workload != "") + boolInt(w.Namespace != ""); n > 1 {
			t.Errorf("%q parsed with %d selectors", s, n)
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// FuzzParseSpeedups: a speed-up file yields only known components with
// factors in range.
func FuzzParseSpeedups(f *testing.F) {
	for _, s := range []string{"{parsing: 2, tls: 1.5}", `{"filters": 0.5}`, "parsing: 1e-320", "tls: .inf", "- 1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sp, err := ParseSpeedups("fuzz.yaml", data)
		if err != nil {
			return
		}
		for c, v := range sp {
			if _, ok := componentIndex[c]; !ok || !(v >= MinSpeedup && v <= MaxSpeedup) {
				t.Errorf("accepted %s: %v", c, v)
			}
		}
	})
}

// FuzzPredict is the property behind every figure: any graph that
// validates, with any profile coefficients that validate, any latency rate
// factor, fan-out and speed-up, with the queueing term, gives a report whose figures are all finite
// and non-negative (Run checks), with p99 never below p50, that encodes as
// JSON.
func FuzzPredict(f *testing.F) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b, 1.0, 1.0, 2.0, false)
		}
	}
	f.Add([]byte("apiVersion: meshinsight.dev/v1\nkind: CallGraph\nworkloads: [{name: a, requestsPerSecond: 1e9}, {name: b, mode: ambient}]\n"+
		"edges: [{from: a, to: b, requestsPerSecond: 1e9, requestBytes: 1073741824, retries: {attempts: 100, failureRate: 1}}, {from: b, to: a}]\n"),
		1e7, 1000.0, 0.001, true)
	ref, err := profile.Reference()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, graph []byte, coefficient, factor, speedup float64, parallel bool) {
		g, err := callgraph.Parse("fuzz.yaml", graph)
		if err != nil {
			return
		}
		rg, err := callgraph.Resolve(g)
		if err != nil {
			t.Fatalf("a parsed graph does not resolve: %v", err)
		}
		p := *ref
		p.Models = append([]profile.Model(nil), ref.Models...)
		p.Models[0].CPUMicrosPerRequest.PerKiB = coefficient
		p.Models[1].LatencyP50Micros.Intercept = coefficient
		p.LatencyRateFactors = []profile.RateCurve{{Mode: "sidecar", Points: []profile.RatePoint{{RequestsPerSecond: 100, Factor: factor}}}}
		if p.Validate() != nil || checkSpeedup(speedup) != nil {
			return
		}
		in := Input{Graph: rg, Profile: &p, FanOut: Sequential, Speedups: map[profile.Component]float64{profile.Parsing: speedup},
			WhatIf: []WhatIf{{Raw: "mode=ambient", Mode: "ambient"}}, Queueing: true}
		if parallel {
			in.FanOut = Parallel
		}
		r, err := Run(in)
		if err != nil {
			t.Fatalf("valid graph and profile: %v", err)
		}
		for _, sc := range []*Scenario{&r.Baseline, r.Variant} {
			for _, e := range append(sc.Edges, sc.Ingress...) {
				if e.LatencyP99Micros < e.LatencyP50Micros*(1-1e-12) {
					t.Errorf("edge %s: p99 %v < p50 %v", e.Name(), e.LatencyP99Micros, e.LatencyP50Micros)
				}
			}
			for _, path := range sc.Paths {
				if math.IsNaN(path.Calls) {
					t.Errorf("path %s: calls NaN", path.Entry)
				}
			}
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("report does not encode: %v", err)
		}
	})
}
