package predict

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBudget(t *testing.T) {
	s := &Scenario{
		Edges:   []EdgeResult{{From: "a", To: "b", LatencyP50Micros: 150, LatencyP99Micros: 250}, {From: "b", To: "c", LatencyP50Micros: 50, LatencyP99Micros: 90}},
		Paths:   []PathResult{{Entry: "a", LatencyP50Micros: 200, LatencyP99Micros: 340}},
		Proxies: []ProxyResult{{Workload: "a", Replicas: 2, CPUMillicores: 300}, {Workload: "b", Replicas: 1, CPUMillicores: 100}},
	}
	for name, tc := range map[string]struct {
		b    Budget
		want []string
	}{
		"none":            {Budget{}, nil},
		"p99 above all":   {Budget{MaxAddedP99: time.Millisecond}, nil},
		"p99 between":     {Budget{MaxAddedP99: 300 * time.Microsecond}, []string{"path a: +P99 340µs > 300µs"}},
		"p50":             {Budget{MaxAddedP50: 100 * time.Microsecond}, []string{"edge a->b: +P50 150µs > 100µs", "path a: +P50 200µs > 100µs"}},
		"cpu per replica": {Budget{MaxProxyCPUMillicores: 120}, []string{"proxy a: CPU/replica 150m > 120m"}},
	} {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, o := range tc.b.Check(s) {
				got = append(got, o.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("Check = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCheckBudgetPrefersTheVariant(t *testing.T) {
	r := &Report{Baseline: Scenario{Edges: []EdgeResult{{From: "a", To: "b", LatencyP99Micros: 500}}}}
	b := Budget{MaxAddedP99: 400 * time.Microsecond}
	var over *OverBudgetError
	if err := CheckBudget(r, b); !errors.As(err, &over) || over.Scenario != "baseline" || len(over.Offences) != 1 {
		t.Fatalf("baseline over budget: %v", err)
	}
	r.Variant = &Scenario{Edges: []EdgeResult{{From: "a", To: "b", LatencyP99Micros: 300}}}
	if err := CheckBudget(r, b); err != nil {
		t.Errorf("variant within budget: %v", err)
	}
}
