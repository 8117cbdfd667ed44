//go:build linux && privileged

package agent

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/internal/privtest"
	"github.com/meshinsight/kubectl-meshinsight/pkg/loadgen"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/spread"
)

// suite is shared by the tests: a context cancelled on SIGINT/SIGTERM, the
// run's name prefix, and the helper argv (this test binary re-executed as
// the serve and load subcommands of cmd/meshinsight-agent).
var suite privtest.Suite

func TestMain(m *testing.M) {
	privtest.Main(m, privtest.Config{
		HelperArg: "-agent-helper", Stem: "ma", Needs: "builds network namespaces and loads eBPF",
		Helper: RunHelper, Cleanup: Cleanup,
	}, &suite)
}

// assertNothingLeft checks that no network namespace or temporary directory
// with the prefix and none of the measured proxies survived.
func assertNothingLeft(tb testing.TB, prefix string, ms []Measurement) {
	tb.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		tb.Fatalf("ip netns list: %v: %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, prefix) {
			tb.Errorf("network namespace left behind: %s", line)
		}
	}
	left, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	for _, d := range left {
		tb.Errorf("temporary directory left behind: %s", d)
	}
	for _, m := range ms {
		for _, s := range m.Sides {
			if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", s.PID)); err == nil && strings.HasPrefix(string(comm), "haproxy") {
				tb.Errorf("proxy %d (%s side) still running", s.PID, s.Side)
			}
		}
	}
}

// runLeavingNothing runs the profile cfg, checks that nothing with its
// prefix survived it, and fails the test on an error.
func runLeavingNothing(ctx context.Context, t *testing.T, cfg Config) *Result {
	t.Helper()
	res, err := Run(ctx, cfg)
	var ms []Measurement
	if res != nil {
		ms = res.Measurements
	}
	assertNothingLeft(t, cfg.Prefix, ms)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestLocalProfile runs a small real profile: haproxy, tcp and http, mTLS
// off and on, two sizes, one rate, 1 s runs, 2 rounds (8 cells, about a
// minute).
func TestLocalProfile(t *testing.T) {
	ctx, cancel := context.WithTimeout(suite.Ctx, 3*time.Minute)
	defer cancel()
	prefix := suite.Prefix + "t"
	cfg := Config{
		Proxy: "haproxy", Protocols: []string{"tcp", "http"}, MTLS: []bool{false, true},
		Sizes: []int{128, 4096}, Rates: []float64{500}, Duration: time.Second, Rounds: 2,
		Helper: suite.Helper, Prefix: prefix, Progress: privtest.LogWriter{TB: t},
	}
	start := time.Now()
	res := runLeavingNothing(ctx, t, cfg)
	ms := res.Measurements
	t.Logf("profile of %d cells in %v", len(ms), time.Since(start).Round(time.Millisecond))
	if len(ms) != 8 {
		t.Fatalf("%d measurements, want 8", len(ms))
	}

	path := filepath.Join(t.TempDir(), "profile.json")
	if err := profile.WriteFile(path, res.Profile); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(data)
	if err != nil {
		t.Fatalf("parsing the written profile: %v", err)
	}
	if len(p.Models) == 0 || p.Provenance.Platform.ProxyVersion == "" || p.Provenance.Platform.Kernel == "" {
		t.Errorf("profile: %d models, platform %+v", len(p.Models), p.Provenance.Platform)
	}
	// The profile says what it was measured with and what measuring cost.
	if c := p.Provenance.Checks; c == nil || !(c.ObserverThroughputRatio > 0.5 && c.ObserverThroughputRatio < 1.5) {
		t.Errorf("checks %+v: want the probes' throughput ratio measured", c)
	}
	if l := p.Provenance.Load; l == nil || l.Arrivals != "poisson" || l.Connections != DefaultConnections || l.ConnectionsKept != "cell" {
		t.Errorf("load %+v: want Poisson arrivals over the default connections", l)
	}
	// The benchmark itself keeps the node's CPUs busy for some of the time.
	if l := p.Provenance.Load; l == nil || l.NodeBusy == nil || !(*l.NodeBusy > 0 && *l.NodeBusy <= 1) {
		t.Errorf("load %+v: want how busy the node's CPUs were recorded", l)
	}
	for _, m := range ms {
		for i, r := range m.Rounds {
			if r.NodeBusy == nil || !(*r.NodeBusy > 0 && *r.NodeBusy <= 1) {
				t.Errorf("cell %s round %d: node busy share %v, want one in (0, 1]", m.Cell, i+1, r.NodeBusy)
			}
		}
		for _, s := range m.Sides {
			if s.Runs == 0 {
				t.Errorf("cell %s, %s proxy: no run on a CPU counted, want its wake-ups", m.Cell, s.Side)
			}
		}
	}
	variants := map[string]bool{}
	for _, m := range p.Models {
		variants[m.Key.Variant()] = true
		for name, l := range map[string]profile.Linear{"cpu": m.CPUMicrosPerRequest, "p50": m.LatencyP50Micros, "p99": m.LatencyP99Micros} {
			if l.PerKiB < 0 || l.Intercept < 0 {
				t.Errorf("%s/%s %s: %+v has a negative term", m.Key, m.Component, name, l)
			}
		}
		if m.Fit == nil || math.IsNaN(m.Fit.R2) || m.Fit.Samples != 2 {
			t.Errorf("%s/%s: fit %+v, want R² over 2 sizes", m.Key, m.Component, m.Fit)
		}
	}
	if len(variants) != 4 {
		t.Errorf("variants %v, want tcp and http with mTLS on and off", variants)
	}

	// A cell whose load generator fell behind (another job took the CPUs)
	// measures the machine's queueing, not the proxies: its latency and
	// CPU figures are logged but not asserted. Most cells must be usable.
	//
	// eBPF and schedstat must agree within 5 % at the median over every
	// proxy of every usable cell, and within 10 % in each. A single short
	// cell (here one 1 s round, about 100 ms of proxy CPU) can differ by
	// more than 5 % on this VM: the scheduler's clock leaves out the time
	// the hypervisor steals from the vCPU (CONFIG_PARAVIRT_TIME_ACCOUNTING),
	// eBPF's includes it, and boundary intervals weigh more in short cells.
	// Runs measured a median of 1.3–2.5 % with single cells at 5–8 %. A
	// broken probe misses by far more (whole threads or switches lost).
	const maxAgreement = 0.10
	var agreement []float64
	usable := 0
	for _, m := range ms {
		meshP50, bypassP50, _, _ := m.MedianLatencies()
		t.Logf("%s: %.1f CPU-µs/req (out %.1f, in %.1f), mesh p50 %.0f µs, bypass p50 %.0f µs, agreement %.1f%%/%.1f%%, late %d/%d of %d",
			m.Cell, m.CPUMicrosPerRequest(), float64(m.Sides[0].OnCPUNanos)/1e3/float64(m.MeshRequests),
			float64(m.Sides[1].OnCPUNanos)/1e3/float64(m.MeshRequests), meshP50, bypassP50,
			100*m.Sides[0].Agreement(), 100*m.Sides[1].Agreement(), m.MeshLate, m.BypassLate, m.MeshRequests)
		for _, s := range m.Sides {
			if s.OnCPUNanos == 0 {
				t.Errorf("%s %s: no on-CPU time measured", m.Cell, s.Side)
			}
		}
		if m.Overloaded() {
			t.Logf("%s: overloaded, not asserted", m.Cell)
			continue
		}
		usable++
		for _, s := range m.Sides {
			agreement = append(agreement, s.Agreement())
			if a := s.Agreement(); a > maxAgreement {
				t.Errorf("%s %s: eBPF on-CPU %d ns vs schedstat %d ns: %.1f%% apart, want ≤ %.0f%%",
					m.Cell, s.Side, s.OnCPUNanos, s.SchedstatOnCPUNanos, 100*a, 100*maxAgreement)
			}
		}
		if !(bypassP50 < meshP50) {
			t.Errorf("%s: bypass p50 %.0f µs not below mesh p50 %.0f µs", m.Cell, bypassP50, meshP50)
		}
	}
	if med := spread.Of(agreement).Median; med > 0.05 {
		t.Errorf("eBPF and schedstat on-CPU figures %.1f%% apart at the median, want ≤ 5%%", 100*med)
	}
	if usable*4 < len(ms)*3 {
		t.Errorf("only %d of %d cells kept up with their rate: the machine is too busy to assert on", usable, len(ms))
	}
}

// TestLocalProfileCancelled interrupts a run in its first cell and checks
// that everything is torn down.
func TestLocalProfileCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(suite.Ctx)
	defer cancel()
	prefix := suite.Prefix + "c"
	cfg := Config{
		Proxy: "haproxy", Protocols: []string{"http"}, MTLS: []bool{true},
		Sizes: []int{1024}, Rates: []float64{500}, Duration: 5 * time.Second, Rounds: 3,
		Helper: suite.Helper, Prefix: prefix, Progress: privtest.LogWriter{TB: t},
	}
	time.AfterFunc(4*time.Second, cancel)
	start := time.Now()
	_, err := Run(ctx, cfg)
	if err == nil {
		t.Fatal("a cancelled run returned no error")
	}
	t.Logf("cancelled run returned after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("cancelled run took %v to return", d)
	}
	assertNothingLeft(t, prefix, nil)
}

// BenchmarkLocalProfile reports (a) the wall time of a full local profile:
// haproxy, tcp and http (the local datapath has no http2/grpc proxy), mTLS
// off and on, and the default sizes, rates, rounds and run length (the
// CLI's defaults); (b) the observer effect, closed-loop throughput through both proxies
// with the probes attached ÷ without, interleaved; (c) the agreement of eBPF
// on-CPU time with schedstat; (d) repeatability: a second profile taken
// right after the first, each traversal's CPU per request at 1 KiB and the
// reference rate compared. Run it with -benchtime 1x.
func BenchmarkLocalProfile(b *testing.B) {
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(suite.Ctx, 25*time.Minute)
		prefix := fmt.Sprintf("%sb%d", suite.Prefix, i)
		cfg := Config{
			Proxy: "haproxy", Protocols: DefaultProtocols, MTLS: []bool{false, true},
			Sizes: DefaultSizes, Rates: DefaultRates, Duration: DefaultDuration, Rounds: DefaultRounds,
			MaxRounds: DefaultMaxRounds, Budget: DefaultBudget,
			Helper: suite.Helper, Prefix: prefix, Progress: privtest.LogWriter{TB: b},
		}
		start := time.Now()
		res, err := Run(ctx, cfg)
		wall := time.Since(start)
		if res != nil {
			assertNothingLeft(b, prefix, res.Measurements)
		}
		if err != nil {
			cancel()
			b.Fatal(err)
		}
		b.ReportMetric(wall.Seconds(), "profile-s")
		cfg.Prefix = prefix + "r"
		again, err := Run(ctx, cfg)
		if again != nil {
			assertNothingLeft(b, cfg.Prefix, again.Measurements)
		}
		if err != nil {
			cancel()
			b.Fatal(err)
		}
		rep := repeatability(res.Profile, again.Profile)
		b.ReportMetric(100*rep.Median, "repeatability-median-%")
		b.ReportMetric(100*rep.Max, "repeatability-worst-%")
		b.Logf("repeatability, CPU per request per traversal at 1 KiB, two profiles back to back: median %.1f%% apart, worst %.1f%% (%d traversals)",
			100*rep.Median, 100*rep.Max, rep.N)

		var agreements []float64
		for _, m := range res.Measurements {
			for _, s := range m.Sides {
				agreements = append(agreements, s.Agreement())
			}
			if m.Protocol == "http" && m.MTLS && m.Bytes == 1024 && m.RatePerSecond == 500 {
				p50, p99 := m.AddedP50Micros(), m.AddedP99Micros()
				b.ReportMetric(m.CPUMicrosPerRequest(), "http-mtls-1KiB-cpu-µs/req")
				b.ReportMetric(p50.Median, "http-mtls-1KiB-added-p50-µs")
				b.ReportMetric(p99.Median, "http-mtls-1KiB-added-p99-µs")
				b.Logf("http mTLS 1 KiB 500/s: CPU %.1f µs/req (out %.1f, in %.1f), added p50 %.0f µs [%.0f, %.0f], p99 %.0f µs [%.0f, %.0f]",
					m.CPUMicrosPerRequest(), float64(m.Sides[0].OnCPUNanos)/1e3/float64(m.MeshRequests),
					float64(m.Sides[1].OnCPUNanos)/1e3/float64(m.MeshRequests),
					p50.Median, p50.Min, p50.Max, p99.Median, p99.Min, p99.Max)
			}
		}
		sort.Float64s(agreements)
		med, _, worst := loadgen.Spread(agreements)
		b.ReportMetric(100*med, "agreement-median-%")
		b.ReportMetric(100*worst, "agreement-worst-%")
		for _, c := range res.Profile.RateFactors {
			b.Logf("rate factors (%s): %+v", c.Mode, c.Points)
		}

		ratio, err := observerEffect(ctx, b, prefix+"o")
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(ratio, "observer-throughput-ratio")
	}
}

// observerEffect measures closed-loop throughput through both haproxy
// sidecars (http, 4 connections) without and with the agent's probes
// attached, in 9 ABBA-ordered pairs of 2 s runs (ObserverRatio, as every
// profile does with 4 pairs of 0.5 s), and returns the median of the
// pairs' ratios.
func observerEffect(ctx context.Context, b *testing.B, prefix string) (ratio float64, err error) {
	dir, err := os.MkdirTemp("", prefix+"-")
	if err != nil {
		return 0, err
	}
	rig, err := NewRig(ctx, RigConfig{Prefix: prefix, Proxy: "haproxy", Protocol: loadgen.HTTP, Helper: suite.Helper, Dir: dir})
	if err != nil {
		os.RemoveAll(dir)
		return 0, err
	}
	defer func() {
		if cerr := rig.Close(); cerr != nil && err == nil {
			err = cerr
		}
		os.RemoveAll(dir)
		assertNothingLeft(b, prefix, nil)
	}()
	out, in := rig.ProxyPIDs()
	f, err := ObserverRatio(ctx, rig, loadgen.HTTP, 4, []int{out, in}, DefaultSamplePeriod, 9, 2*time.Second)
	if err != nil {
		return 0, err
	}
	b.Logf("observer effect: closed-loop throughput with probes ÷ without, per ABBA pair: median %.3f [%.3f, %.3f] over %d pairs",
		f.Median, f.Min, f.Max, f.N)
	return f.Median, nil
}

// BenchmarkObserverEffect is the observer-effect part of
// BenchmarkLocalProfile alone (about a minute).
func BenchmarkObserverEffect(b *testing.B) {
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(suite.Ctx, 5*time.Minute)
		ratio, err := observerEffect(ctx, b, fmt.Sprintf("%so%d", suite.Prefix, i))
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(ratio, "observer-throughput-ratio")
	}
}

// repeatability compares two profiles' CPU per request of each traversal
// (all components, at 1 KiB and the reference rate): |a − b| ÷ mean.
func repeatability(a, b *profile.Profile) spread.Figure {
	total := func(p *profile.Profile) map[profile.Key]float64 {
		out := map[profile.Key]float64{}
		for _, m := range p.Models {
			out[m.Key] += m.CPUMicrosPerRequest.At(1024)
		}
		return out
	}
	ta, tb := total(a), total(b)
	var diffs []float64
	for k, va := range ta {
		if vb, ok := tb[k]; ok && va+vb > 0 {
			diffs = append(diffs, math.Abs(va-vb)/((va+vb)/2))
		}
	}
	return spread.Of(diffs)
}
