package agent

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/spread"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

// synthetic is a hand-computable cell: 1000 requests; outbound 30 µs CPU
// and 4 µs run-queue wait per request with samples socket-write 50, tls 30,
// app 10, proxy-other 10; inbound 10 µs CPU and 20 µs wait, no samples;
// added latency per round p50 100, 60, 140 (median 100) and p99 400, 400,
// 600 (median 400).
func synthetic() Measurement {
	return Measurement{
		Cell:         Cell{Protocol: "http", MTLS: true, RatePerSecond: 500, Bytes: 1024},
		MeshRequests: 1000,
		Rounds: []Round{
			{MeshP50Micros: 300, BypassP50Micros: 200, MeshP99Micros: 1000, BypassP99Micros: 600},
			{MeshP50Micros: 260, BypassP50Micros: 200, MeshP99Micros: 900, BypassP99Micros: 500},
			{MeshP50Micros: 350, BypassP50Micros: 210, MeshP99Micros: 1300, BypassP99Micros: 700},
		},
		Sides: []SideMeasurement{
			{Side: profile.Outbound, OnCPUNanos: 30_000_000, SchedstatOnCPUNanos: 30_600_000, RunqWaitNanos: 4_000_000,
				Samples: map[profile.Component]uint64{profile.SocketWrite: 50, profile.TLS: 30, "app": 10, profile.ProxyOther: 10}},
			{Side: profile.Inbound, OnCPUNanos: 10_000_000, SchedstatOnCPUNanos: 10_000_000, RunqWaitNanos: 20_000_000},
		},
	}
}

func TestAttribute(t *testing.T) {
	costs, err := Attribute(synthetic())
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		side profile.Side
		dir  profile.Direction
		comp profile.Component
	}
	got := map[key]Cost{}
	var sumCPU, sumP50, sumP99 float64
	for _, c := range costs {
		got[key{c.Side, c.Direction, c.Component}] = c
		sumCPU += c.CPUMicros
		sumP50 += c.LatencyP50Micros
		sumP99 += c.LatencyP99Micros
	}
	if n := 2 * 2 * len(profile.Components); len(costs) != n {
		t.Fatalf("%d costs, want %d", len(costs), n)
	}
	// Outbound: CPU weight 30/40 = 0.75, so p50 75 µs (4 of it sched-wait,
	// 71 by shares .5/.3/.2) and p99 300 µs (4 + 296); all halved per
	// direction. Inbound: weight .25, p50 25 (20 wait + 5), p99 100 (20 + 80).
	want := []struct {
		k             key
		cpu, p50, p99 float64
	}{
		{key{profile.Outbound, profile.Request, profile.SocketWrite}, 7.5, 17.75, 74},
		{key{profile.Outbound, profile.Response, profile.TLS}, 4.5, 10.65, 44.4},
		{key{profile.Outbound, profile.Request, profile.ProxyOther}, 3, 7.1, 29.6},
		{key{profile.Outbound, profile.Response, profile.SchedWait}, 0, 2, 2},
		{key{profile.Outbound, profile.Request, profile.Parsing}, 0, 0, 0},
		{key{profile.Inbound, profile.Request, profile.ProxyOther}, 5, 2.5, 40},
		{key{profile.Inbound, profile.Response, profile.SchedWait}, 0, 10, 10},
	}
	for _, w := range want {
		c := got[w.k]
		if !near(c.CPUMicros, w.cpu) || !near(c.LatencyP50Micros, w.p50) || !near(c.LatencyP99Micros, w.p99) {
			t.Errorf("%v: cpu %g p50 %g p99 %g, want %g %g %g", w.k, c.CPUMicros, c.LatencyP50Micros, c.LatencyP99Micros, w.cpu, w.p50, w.p99)
		}
	}
	// Nothing is lost or invented: the parts add up to the measured totals.
	if !near(sumCPU, 40) || !near(sumP50, 100) || !near(sumP99, 400) {
		t.Errorf("sums cpu %g p50 %g p99 %g, want 40, 100, 400", sumCPU, sumP50, sumP99)
	}
}

func TestAttributeNegativeAddedLatencyIsZero(t *testing.T) {
	m := synthetic()
	for i := range m.Rounds {
		m.Rounds[i].BypassP50Micros = m.Rounds[i].MeshP50Micros + 10
	}
	costs, err := Attribute(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range costs {
		if c.LatencyP50Micros != 0 {
			t.Fatalf("%s/%s/%s: p50 %g, want 0 when bypass is slower", c.Side, c.Direction, c.Component, c.LatencyP50Micros)
		}
	}
}

func TestAttributeNoRequests(t *testing.T) {
	m := synthetic()
	m.MeshRequests = 0
	if _, err := Attribute(m); !errors.Is(err, ErrNoRequests) {
		t.Fatalf("err = %v, want ErrNoRequests", err)
	}
}

func TestShares(t *testing.T) {
	got := sampleShares(map[profile.Component]uint64{profile.TLS: 2, "app": 1, "mystery": 1})
	if !near(got[profile.TLS], 0.5) || !near(got[profile.ProxyOther], 0.5) || len(got) != 2 {
		t.Errorf("shares %v, want tls .5, proxy-other .5", got)
	}
	if got := sampleShares(nil); got[profile.ProxyOther] != 1 {
		t.Errorf("no samples: %v, want all proxy-other", got)
	}
}

func TestAgreement(t *testing.T) {
	for _, tc := range []struct {
		ebpf, ss uint64
		want     float64
	}{{102, 100, 0.02}, {98, 100, 0.02}, {0, 0, 0}, {5, 0, 1}} {
		s := SideMeasurement{OnCPUNanos: tc.ebpf, SchedstatOnCPUNanos: tc.ss}
		if got := s.Agreement(); !near(got, tc.want) {
			t.Errorf("Agreement(%d, %d) = %g, want %g", tc.ebpf, tc.ss, got, tc.want)
		}
	}
}

// cell makes a measurement whose proxies' CPU per request is outbound and
// inbound µs, all proxy-other, no run-queue wait and added p50 of addedP50.
func cell(bytes int, rate, outbound, inbound, addedP50 float64) Measurement {
	return Measurement{
		Cell:         Cell{Protocol: "tcp", RatePerSecond: rate, Bytes: bytes},
		MeshRequests: 1000,
		Rounds:       []Round{{MeshP50Micros: 100 + addedP50, BypassP50Micros: 100, MeshP99Micros: 500, BypassP99Micros: 500}},
		Sides: []SideMeasurement{
			{Side: profile.Outbound, OnCPUNanos: uint64(outbound * 1e6)},
			{Side: profile.Inbound, OnCPUNanos: uint64(inbound * 1e6)},
		},
	}
}

func TestBuildProfile(t *testing.T) {
	// At 500 req/s: outbound 10, 12, 14 µs at 0, 1, 2 KiB (intercept 10,
	// 2 µs/KiB), inbound 6, 7, 8 (6, 1 µs/KiB); added p50 32, 38, 44 µs.
	// At 2000 req/s CPU is half (factor .5) for one size and .75 for
	// another: the median of two is .625.
	ms := []Measurement{
		cell(0, 500, 10, 6, 32), cell(1024, 500, 12, 7, 38), cell(2048, 500, 14, 8, 44),
		cell(0, 2000, 5, 3, 16), cell(1024, 2000, 9, 5.25, 19),
	}
	created := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	p, err := BuildProfile(ms, "local-test", created, Platform{Proxy: "haproxy"})
	if err != nil {
		t.Fatal(err)
	}
	// proxy-other only (sched-wait and the rest are all zero): 2 sides × 2 directions.
	if len(p.Models) != 4 {
		t.Fatalf("%d models, want 4: %+v", len(p.Models), p.Models)
	}
	for _, m := range p.Models {
		if m.Component != profile.ProxyOther || m.Mode != "sidecar" || m.Protocol != "tcp" || m.MTLS {
			t.Errorf("unexpected model %s/%s", m.Key, m.Component)
		}
		wantCPU := profile.Linear{Intercept: 5, PerKiB: 1}
		// The outbound share of the added p50 is 10/16, 12/19, 14/22 of it
		// = 20, 24, 28 µs, halved per direction: 10 + 2/KiB.
		wantP50 := profile.Linear{Intercept: 10, PerKiB: 2}
		if m.Side == profile.Inbound {
			wantCPU = profile.Linear{Intercept: 3, PerKiB: 0.5}
			wantP50 = profile.Linear{Intercept: 6, PerKiB: 1}
		}
		if !near(m.CPUMicrosPerRequest.Intercept, wantCPU.Intercept) || !near(m.CPUMicrosPerRequest.PerKiB, wantCPU.PerKiB) {
			t.Errorf("%s cpu %+v, want %+v", m.Key, m.CPUMicrosPerRequest, wantCPU)
		}
		if !near(m.LatencyP50Micros.Intercept, wantP50.Intercept) || !near(m.LatencyP50Micros.PerKiB, wantP50.PerKiB) {
			t.Errorf("%s p50 %+v, want %+v", m.Key, m.LatencyP50Micros, wantP50)
		}
		if m.Fit == nil || !near(m.Fit.R2, 1) || m.Fit.Samples != 3 || m.Fit.MaxBytes != 2048 {
			t.Errorf("%s fit %+v, want R² 1 over 3 samples up to 2048 B", m.Key, m.Fit)
		}
	}
	if len(p.RateFactors) != 1 {
		t.Fatalf("rate factors %+v, want one curve", p.RateFactors)
	}
	c := p.RateFactors[0]
	if c.Mode != "sidecar" || len(c.Points) != 2 || c.Points[0] != (profile.RatePoint{RequestsPerSecond: 500, Factor: 1}) ||
		c.Points[1].RequestsPerSecond != 2000 || !near(c.Points[1].Factor, 0.625) {
		t.Errorf("rate curve %+v, want 500→1, 2000→0.625", c)
	}
	// Added p50 halves from 500 to 2000 req/s at both sizes.
	if len(p.LatencyRateFactors) != 1 || len(p.LatencyRateFactors[0].Points) != 2 ||
		!near(p.LatencyRateFactors[0].Points[1].Factor, 0.5) {
		t.Errorf("latency rate curve %+v, want 500→1, 2000→0.5", p.LatencyRateFactors)
	}
	data, err := profile.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := profile.Parse(data); err != nil {
		t.Fatalf("the written profile does not parse: %v", err)
	}
	if p.Metadata.Name != "local-test" || !p.Metadata.Created.Equal(created) || p.Provenance.Method == "" {
		t.Errorf("metadata %+v / provenance %+v", p.Metadata, p.Provenance)
	}
}

func TestBuildProfileErrors(t *testing.T) {
	if _, err := BuildProfile(nil, "x", time.Now(), Platform{}); err == nil {
		t.Error("no measurements: want an error")
	}
	bad := cell(0, 500, 1, 1, 0)
	bad.MeshRequests = 0
	if _, err := BuildProfile([]Measurement{bad}, "x", time.Now(), Platform{}); !errors.Is(err, ErrNoRequests) {
		t.Errorf("err = %v, want ErrNoRequests", err)
	}
}

func TestSpreads(t *testing.T) {
	m := synthetic()
	if s := m.AddedP50Micros(); s != (spread.Figure{Median: 100, Min: 60, Max: 140, N: 3}) {
		t.Errorf("AddedP50Micros = %+v", s)
	}
	if s := m.AddedP99Micros(); s != (spread.Figure{Median: 400, Min: 400, Max: 600, N: 3}) {
		t.Errorf("AddedP99Micros = %+v", s)
	}
	if got := m.CPUMicrosPerRequest(); !near(got, 40) {
		t.Errorf("CPUMicrosPerRequest = %g, want 40", got)
	}
}

func TestChecksOf(t *testing.T) {
	kept := synthetic() // agreement 0.6/30.6 outbound, 0 inbound; mesh slower
	slowBypass := synthetic()
	slowBypass.Rounds = []Round{{MeshP50Micros: 100, BypassP50Micros: 200}}
	slowBypass.Sides[1].SchedstatOnCPUNanos = 12_500_000 // 20% apart
	late := synthetic()
	late.MeshLate = 100 // overloaded: judged by nothing
	late.Sides[0].SchedstatOnCPUNanos = 1
	c := ChecksOf([]Measurement{kept, slowBypass, late})
	if c.Cells != 3 || c.KeptUp != 2 || c.MeshSlower != 1 {
		t.Errorf("cells %d kept up %d mesh slower %d, want 3 2 1", c.Cells, c.KeptUp, c.MeshSlower)
	}
	// Agreements of the kept-up cells: 0.6/30.6, 0, 0.6/30.6, 0.2.
	if !near(c.SchedstatAgreementWorst, 0.2) || !near(c.SchedstatAgreementMedian, 0.6/30.6) {
		t.Errorf("agreement median %g worst %g, want %g and 0.2", c.SchedstatAgreementMedian, c.SchedstatAgreementWorst, 0.6/30.6)
	}
	if c := ChecksOf(nil); c.Cells != 0 || c.SchedstatAgreementWorst != 0 {
		t.Errorf("no measurements: %+v", c)
	}
}

func TestPrecise(t *testing.T) {
	round := func(cpu, added float64) Round {
		return Round{CPUMicrosPerRequest: cpu, MeshP50Micros: 500 + added, BypassP50Micros: 500}
	}
	tight := Measurement{Rounds: []Round{round(100, 200), round(101, 205), round(99, 195)}}
	if !tight.Precise(0.05) {
		t.Error("rounds within 1 % (CPU) and 2.5 % (p50) are not precise to 5 %")
	}
	// CPU per round 100, 140, 60: SE 23 % of the mean.
	noisyCPU := Measurement{Rounds: []Round{round(100, 200), round(140, 200), round(60, 200)}}
	if noisyCPU.Precise(0.05) {
		t.Error("noisy CPU passed as precise")
	}
	// Added p50 200, 260, 140: SE 17 %, above twice 5 %.
	noisyP50 := Measurement{Rounds: []Round{round(100, 200), round(100, 260), round(100, 140)}}
	if noisyP50.Precise(0.05) || !noisyP50.Precise(0.1) {
		t.Error("the added p50's allowance is not twice the CPU's")
	}
	if (Measurement{Rounds: []Round{round(100, 200)}}).Precise(1) {
		t.Error("one round passed as precise")
	}
	if (Measurement{Rounds: []Round{round(0, 0), round(0, 0)}}).Precise(0.5) {
		t.Error("a zero mean passed as precise")
	}
}

func TestNodeBusyIsTheMedianOfTheRoundsThatHaveOne(t *testing.T) {
	share := func(v float64) *float64 { return &v }
	m := Measurement{Rounds: []Round{{NodeBusy: share(0.5)}, {}, {NodeBusy: share(0.2)}, {NodeBusy: share(0.9)}}}
	if got, ok := m.NodeBusy(); !ok || !near(got, 0.5) {
		t.Errorf("NodeBusy() = %v, %v; want 0.5, true (rounds without a share left out)", got, ok)
	}
	if _, ok := (Measurement{Rounds: []Round{{}, {}}}).NodeBusy(); ok {
		t.Error("NodeBusy() of rounds without a share: ok, want false")
	}
}

// TestBuildProfileKeepsEachSidesMeasuredTotal is the bias found in issue
// 12: a handful of stack samples per cell put a side's CPU in one component
// at 128 B and in another at 4 KiB; fitted component by component with
// non-negative lines, the models then summed to about half the measured
// CPU at 128 B and far more than it at 4 KiB. Each side's models must sum
// to what was measured at every size.
func TestBuildProfileKeepsEachSidesMeasuredTotal(t *testing.T) {
	sampled := func(bytes int, rate float64, comp profile.Component) Measurement {
		m := cell(bytes, rate, 130, 130, 300)
		for i := range m.Sides {
			m.Sides[i].Samples = map[profile.Component]uint64{comp: 3}
		}
		return m
	}
	ms := []Measurement{
		sampled(128, 150, profile.SocketRead), sampled(4096, 150, profile.Epoll),
		// More samples at a higher rate: they set the split, not the totals.
		sampled(128, 1350, profile.ProxyOther), sampled(4096, 1350, profile.ProxyOther),
	}
	p, err := BuildProfile(ms, "local-test", time.Now(), Platform{Proxy: "haproxy"})
	if err != nil {
		t.Fatal(err)
	}
	for _, side := range []profile.Side{profile.Outbound, profile.Inbound} {
		for _, bytes := range []float64{128, 4096} {
			var sum float64
			comps := map[profile.Component]bool{}
			for _, m := range p.Models {
				if m.Side == side {
					sum += m.CPUMicrosPerRequest.At(bytes)
					comps[m.Component] = true
				}
			}
			if !near(sum, 130) {
				t.Errorf("%s at %g B: models sum to %.1f CPU-µs per request, want the measured 130", side, bytes, sum)
			}
			if len(comps) != 3 {
				t.Errorf("%s: components %v, want the three sampled anywhere in the variant", side, comps)
			}
		}
	}
}

func TestRefitKeepsTheRunsProfileButTheModels(t *testing.T) {
	ms := []Measurement{cell(0, 500, 10, 6, 32), cell(1024, 500, 12, 7, 38), cell(0, 2000, 5, 3, 16)}
	like, err := BuildProfile(ms, "local-haproxy-run", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Platform{Proxy: "haproxy"})
	if err != nil {
		t.Fatal(err)
	}
	like.OperatingPoint = &profile.OperatingPoint{RequestsPerSecond: 500, ProxyThreads: 1}
	like.Provenance.Method = "an older fit"
	like.Models = like.Models[:1] // what an older fit might have left
	got, err := Refit(ms, like)
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata != like.Metadata || got.OperatingPoint != like.OperatingPoint || got.Provenance.Method != Method {
		t.Errorf("refit kept metadata %+v, operating point %+v, method %q; want the run's, and today's method", got.Metadata, got.OperatingPoint, got.Provenance.Method)
	}
	if len(got.Models) != 4 {
		t.Errorf("%d models, want the 4 of today's fit", len(got.Models))
	}
}
