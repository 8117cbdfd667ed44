package agent

import (
	"testing"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/loadgen"
)

func TestAddRound(t *testing.T) {
	var m Measurement
	run := func(completed, probes int, p50 time.Duration, rate float64) *loadgen.Result {
		return &loadgen.Result{Completed: completed, Probes: probes, P50: p50, P99: 2 * p50, AchievedRate: rate}
	}
	// The first round counts its session's 4 probes; 2 ms of CPU over 200
	// requests is 10 µs each.
	if err := m.addRound(0, &LoadOutcome{Mesh: []*loadgen.Result{run(196, 4, 400*time.Microsecond, 300)},
		Bypass: []*loadgen.Result{run(200, 4, 200*time.Microsecond, 300)}}, 2_000_000); err != nil {
		t.Fatal(err)
	}
	if err := m.addRound(1, &LoadOutcome{Mesh: []*loadgen.Result{run(300, 0, 500*time.Microsecond, 290)},
		Bypass: []*loadgen.Result{run(300, 0, 200*time.Microsecond, 300)}}, 6_000_000); err != nil {
		t.Fatal(err)
	}
	if m.MeshRequests != 500 || len(m.Rounds) != 2 {
		t.Fatalf("%d requests in %d rounds, want 500 in 2", m.MeshRequests, len(m.Rounds))
	}
	if r := m.Rounds[0]; r.CPUMicrosPerRequest != 10 || r.MeshP50Micros != 400 || r.MeshRequests != 200 {
		t.Errorf("round 1: %+v", r)
	}
	if m.Rounds[1].CPUMicrosPerRequest != 20 || m.MeshAchievedRate != 295 {
		t.Errorf("round 2: %+v, achieved %g", m.Rounds[1], m.MeshAchievedRate)
	}
	if err := m.addRound(2, &LoadOutcome{Mesh: []*loadgen.Result{run(0, 0, 0, 0)}, Bypass: []*loadgen.Result{run(1, 0, 0, 0)}}, 1); err == nil {
		t.Error("a round without completed mesh requests was accepted")
	}
	if err := m.addRound(2, &LoadOutcome{}, 1); err == nil {
		t.Error("a round without runs was accepted")
	}
}
