package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// roundsCell is a cell of four rounds with the given per-round CPU per
// request and added p50 (p99 is three times p50).
func roundsCell(bytes int, cpu, p50 []float64) Measurement {
	m := Measurement{Cell: Cell{Protocol: "http", RatePerSecond: 200, Bytes: bytes}, MeshRequests: 1000}
	var total float64
	for i := range cpu {
		m.Rounds = append(m.Rounds, Round{CPUMicrosPerRequest: cpu[i], MeshP50Micros: 100 + p50[i], BypassP50Micros: 100,
			MeshP99Micros: 300 + 3*p50[i], BypassP99Micros: 300})
		total += cpu[i]
	}
	m.Sides = []SideMeasurement{{Side: profile.Outbound, OnCPUNanos: uint64(total / float64(len(cpu)) * 1000 * 1000)}}
	return m
}

func TestRanges(t *testing.T) {
	steady := roundsCell(0, []float64{100, 100, 100, 100}, []float64{50, 50, 50, 50})
	noisy := roundsCell(0, []float64{80, 100, 120, 100}, []float64{40, 50, 70, 50})
	if got := ranges([]Measurement{steady}, 200)[variant{"http", false}]; got == nil ||
		got.CPU != profile.Exact || got.LatencyP50 != profile.Exact || got.LatencyP99 != profile.Exact {
		t.Fatalf("identical rounds on one size: %+v, want exact bounds", got)
	}
	r := ranges([]Measurement{noisy}, 200)[variant{"http", false}]
	if r == nil {
		t.Fatal("no range for a noisy cell")
	}
	// Bootstrap of the mean of 80, 100, 120, 100: within the values, wider
	// than nothing.
	if !(r.CPU.Low < 1 && r.CPU.Low >= 0.8 && r.CPU.High > 1 && r.CPU.High <= 1.2) {
		t.Errorf("cpu bounds %+v, want within [0.8, 1.2] around 1", r.CPU)
	}
	if !(r.LatencyP50.High > 1 && r.LatencyP50.High <= 70.0/50) {
		t.Errorf("p50 bounds %+v, want high in (1, 1.4]", r.LatencyP50)
	}
	if !strings.Contains(r.Basis, "bootstrap") {
		t.Errorf("basis %q", r.Basis)
	}
	// The widest cell of a variant decides; cells at other rates and cells
	// without per-round CPU do not count.
	other := noisy
	other.RatePerSecond = 800
	oneShot := roundsCell(1024, []float64{0, 0, 0, 0}, []float64{1, 90, 1, 90})
	r2 := ranges([]Measurement{steady, noisy, other, oneShot}, 200)[variant{"http", false}]
	if r2 == nil || r2.CPU.High < r.CPU.High {
		t.Errorf("steady + noisy: %+v, want at least the noisy cell's %+v", r2, r)
	}
	// Sizes off the fitted line widen the range even with steady rounds.
	bent := []Measurement{
		roundsCell(0, []float64{100, 100}, []float64{50, 50}),
		roundsCell(1024, []float64{160, 160}, []float64{50, 50}),
		roundsCell(2048, []float64{140, 140}, []float64{50, 50}),
	}
	rb := ranges(bent, 200)[variant{"http", false}]
	if rb == nil || !(rb.CPU.High > 1.02) || rb.LatencyP50 != profile.Exact {
		t.Errorf("bent sizes: %+v, want a CPU range from the residual and exact p50", rb)
	}
}

func TestBuildProfileRanges(t *testing.T) {
	ms := []Measurement{
		roundsCell(0, []float64{80, 100, 120, 100}, []float64{40, 50, 70, 50}),
		roundsCell(4096, []float64{150, 160, 170, 160}, []float64{60, 60, 70, 62}),
	}
	p, err := BuildProfile(ms, "ranged", time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), Platform{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range p.Models {
		if m.Range == nil || !(m.Range.CPU.Low < 1 && m.Range.CPU.High > 1) {
			t.Errorf("%s/%s: range %+v, want the cells' spread", m.Key, m.Component, m.Range)
		}
	}
	data, err := profile.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := profile.Parse(data); err != nil {
		t.Fatalf("the profile with ranges does not parse: %v", err)
	}
}
