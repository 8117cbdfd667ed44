package predict

import (
	"strings"
	"testing"
)

func TestSort(t *testing.T) {
	report := func() *Report {
		return &Report{
			Baseline: Scenario{
				Edges:   []EdgeResult{{From: "b", To: "c", LatencyP99Micros: 10, CPUMillicores: 5}, {From: "a", To: "b", LatencyP99Micros: 30, CPUMillicores: 1}, {From: "c", To: "d", LatencyP99Micros: 20, CPUMillicores: 9}},
				Proxies: []ProxyResult{{Workload: "b", CPUMillicores: 1}, {Workload: "a", CPUMillicores: 3}},
				Paths:   []PathResult{{Entry: "b", LatencyP99Micros: 1}, {Entry: "a", LatencyP99Micros: 2}},
			},
			Variant: &Scenario{Edges: []EdgeResult{{From: "b", To: "c"}, {From: "a", To: "b"}, {From: "c", To: "d"}}},
		}
	}
	names := func(es []EdgeResult) string {
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return strings.Join(out, " ")
	}
	for key, want := range map[string]string{"name": "a->b b->c c->d", "p99": "a->b c->d b->c", "cpu": "c->d b->c a->b"} {
		r := report()
		if err := Sort(r, key); err != nil {
			t.Fatal(err)
		}
		if got := names(r.Baseline.Edges); got != want {
			t.Errorf("--sort-by %s: edges %s, want %s", key, got, want)
		}
		if names(r.Variant.Edges) != names(r.Baseline.Edges) {
			t.Errorf("--sort-by %s: variant edges %s no longer pair with the baseline's", key, names(r.Variant.Edges))
		}
	}
	// The requests from outside are sorted among themselves, after the edges.
	r := report()
	r.Baseline.Ingress = []EdgeResult{{From: "x/(outside)", To: "x/a", CPUMillicores: 1}, {From: "x/(outside)", To: "x/b", CPUMillicores: 7}}
	if err := Sort(r, "cpu"); err != nil {
		t.Fatal(err)
	}
	if got := names(r.Baseline.Ingress); got != "x/(outside)->x/b x/(outside)->x/a" {
		t.Errorf("--sort-by cpu: ingress %s", got)
	}
	r = report()
	Sort(r, "cpu")
	if r.Baseline.Proxies[0].Workload != "a" {
		t.Errorf("--sort-by cpu: proxies %+v", r.Baseline.Proxies)
	}
	if err := Sort(r, "memory"); err == nil || !strings.Contains(err.Error(), "want one of name, p50") {
		t.Errorf("unknown key: %v", err)
	}
}
