//go:build linux && privileged

package accuracy

import (
	"context"
	"flag"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/internal/privtest"
	"github.com/meshinsight/kubectl-meshinsight/pkg/accuracy/experiment"
	"github.com/meshinsight/kubectl-meshinsight/pkg/agent"
	"github.com/meshinsight/kubectl-meshinsight/pkg/datapath"
	"github.com/meshinsight/kubectl-meshinsight/pkg/loadgen"
	"github.com/meshinsight/kubectl-meshinsight/pkg/printers"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// suite is shared by the tests: a context cancelled on SIGINT/SIGTERM, the
// run's name prefix, and the helper argv (this test binary re-executed as
// the serve, load and relay subcommands of cmd/meshinsight-agent).
var suite privtest.Suite

func TestMain(m *testing.M) {
	privtest.Main(m, privtest.Config{
		HelperArg: "-validate-helper", Stem: "mw", Needs: "builds network namespaces",
		Helper: runHelper, Cleanup: datapath.Cleanup,
	}, &suite)
}

// runHelper implements the helper subcommands like cmd/meshinsight-agent.
func runHelper(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == RelayCommand {
		fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
		config := fs.String(FlagConfig, "", "")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return ServeRelayFile(ctx, *config)
	}
	return agent.RunHelper(ctx, args)
}

// TestValidateShort runs the whole validation of the default chain, short:
// a minimal profile of the four variants, the five-pod chain at two rates,
// two rounds of one second each (about 40 s). It checks what must hold whatever the model's
// accuracy: the chain answers through the mesh and around it, the mesh is
// slower, every proxy worked, every edge is in the table, and nothing is
// left behind.
func TestValidateShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(suite.Ctx, 5*time.Minute)
	defer cancel()
	prefix := suite.Prefix + "s"
	out := t.TempDir()
	cfg := Config{
		Chains: []Chain{DefaultChain()}, Rates: []float64{150, 400}, Rounds: 2, Duration: time.Second, Warmup: 300 * time.Millisecond,
		Profile: ProfileConfig{Rates: []float64{300}, Sizes: []int{512}, Duration: 500 * time.Millisecond, Rounds: 1},
		Helper:  suite.Helper, Prefix: prefix, OutDir: out, Progress: privtest.LogWriter{TB: t},
	}
	checkReport(t, runChainShort(ctx, t, cfg), cfg, 2)
	for _, f := range []string{"profile.json", "measurements.json", "default/report.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("output %s: %v", f, err)
		}
	}
}

// TestValidateDiamondShort runs the diamond chain, short (about 25 s): no
// profiling (the embedded reference profile predicts it; the figures are
// not the point), two rates, two rounds of one second. It checks what the
// chain must do whatever the model's accuracy: its sidecars run as
// configured, every call of the fan-out and of the join is made and timed
// (the store twice per request), every proxy works for the mesh and not
// for the bypass, the graph tells the predictor the store's rate and the
// proxies' threads, and nothing is left behind.
func TestValidateDiamondShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(suite.Ctx, 2*time.Minute)
	defer cancel()
	prefix := suite.Prefix + "d"
	out := t.TempDir()
	ref, err := profile.Reference()
	if err != nil {
		t.Fatal(err)
	}
	profPath := filepath.Join(out, "reference.json")
	if err := profile.WriteFile(profPath, ref); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Chains: []Chain{DiamondChain()}, Rounds: 2, Duration: time.Second, Warmup: 300 * time.Millisecond,
		ProfilePath: profPath, Helper: suite.Helper, Prefix: prefix, OutDir: out, Progress: privtest.LogWriter{TB: t},
	}
	rep := runChainShort(ctx, t, cfg)
	checkReport(t, rep, cfg, len(DiamondChain().Rates))
	if !strings.Contains(rep.Setup, "2 worker thread") || !strings.Contains(rep.Setup, "http-reuse always") {
		t.Errorf("setup %q", rep.Setup)
	}
	for _, rr := range rep.Rates {
		// The join: the store serves both callers, twice per request.
		for i, rd := range rr.Rounds {
			if got, want := rd.Mesh.Handlers["store"].Count, int64(2*rd.Mesh.Completed); got < want {
				t.Errorf("%g req/s round %d: the store served %d requests for %d entry requests, want ≥ %d", rr.RatePerSecond, i+1, got, rd.Mesh.Completed, want)
			}
		}
		graph, err := os.ReadFile(rr.GraphPath)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(graph), "proxyConcurrency: 2") || !strings.HasPrefix(rr.GraphPath, filepath.Join(out, "diamond")+"/") {
			t.Errorf("graph %s does not give the proxies' threads:\n%s", rr.GraphPath, graph)
		}
		if !slices.ContainsFunc(rr.Notes, func(n string) bool { return strings.Contains(n, "2 worker threads") }) {
			t.Errorf("%g req/s: no note on the threads the predictor ignores: %v", rr.RatePerSecond, rr.Notes)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "diamond", "report.json")); err != nil {
		t.Errorf("report: %v", err)
	}
}

// runChainShort runs cfg, whose one chain it returns the report of, and
// checks that nothing was left behind.
func runChainShort(ctx context.Context, t *testing.T, cfg Config) *experiment.Report {
	t.Helper()
	reps, err := Run(ctx, cfg)
	assertNothingLeft(t, cfg.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 || reps[0].Chain != cfg.Chains[0].Name {
		t.Fatalf("%d reports, want the %s chain's", len(reps), cfg.Chains[0].Name)
	}
	return reps[0]
}

// checkReport checks what must hold of a chain's short validation whatever
// the model's accuracy: the chain answers through the mesh and around it,
// the mesh is slower, every call was made and timed, every proxy worked,
// every edge is in the table with a prediction.
func checkReport(t *testing.T, rep *experiment.Report, cfg Config, rates int) {
	t.Helper()
	var table strings.Builder
	if err := printers.PrintValidation(&table, rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())

	top := rep.Topology
	visits := top.Visits()
	if len(rep.Rates) != rates {
		t.Fatalf("%d rates measured, want %d", len(rep.Rates), rates)
	}
	for _, rr := range rep.Rates {
		if len(rr.Rounds) != cfg.Rounds {
			t.Fatalf("%g req/s: %d rounds, want %d", rr.RatePerSecond, len(rr.Rounds), cfg.Rounds)
		}
		var meshP50, bypassP50 []float64
		for i, rd := range rr.Rounds {
			for side, run := range map[string]experiment.LoadRun{SideMesh: rd.Mesh, SideBypass: rd.Bypass} {
				// Arrivals are Poisson: the window's count is rate × duration
				// give or take √n; more than four standard deviations short
				// means the generator or the chain fell behind. Every request
				// sent was answered, none failed or was dropped.
				due := rr.RatePerSecond * cfg.Duration.Seconds()
				if low := due - 4*math.Sqrt(due); float64(run.Sent) < low || run.Completed != run.Sent || run.Dropped > 0 || run.Errors > 0 || run.RelayErrors > 0 {
					t.Errorf("%g req/s round %d %s: %d sent (want ≥ %.0f), %d completed, %d dropped, %d failed, %d relay errors",
						rr.RatePerSecond, i+1, side, run.Sent, low, run.Completed, run.Dropped, run.Errors, run.RelayErrors)
				}
				// Every call of the fan-out was made and timed on both
				// paths, once per request its caller served.
				for _, c := range top.Calls {
					if c.From == top.Entry {
						continue
					}
					if e, want := run.Edges[c.Name()], int64(visits[c.From]*run.Completed); e.Count < want {
						t.Errorf("%g req/s round %d %s: %d timed calls on %s, want ≥ %d", rr.RatePerSecond, i+1, side, e.Count, c.Name(), want)
					}
				}
			}
			meshP50 = append(meshP50, rd.Mesh.P50Micros)
			bypassP50 = append(bypassP50, rd.Bypass.P50Micros)
			// Every proxy did work for the mesh runs; the bypass runs
			// hardly touch them.
			for _, pod := range top.Pods() {
				perReq := float64(rd.Mesh.ProxyCPUNanos[pod]) / float64(rd.Mesh.Requests) / 1e3
				idle := float64(rd.Bypass.ProxyCPUNanos[pod]) / float64(rd.Bypass.Requests) / 1e3
				if perReq < 1 {
					t.Errorf("%g req/s round %d: the %s proxy spent %.2f CPU-µs per mesh request, want ≥ 1", rr.RatePerSecond, i+1, pod, perReq)
				}
				if idle > perReq/2 {
					t.Errorf("%g req/s round %d: the %s proxy spent %.1f CPU-µs per bypass request vs %.1f per mesh request: is the bypass intercepted?",
						rr.RatePerSecond, i+1, pod, idle, perReq)
				}
			}
		}
		// Mesh slower than bypass: four meshed hops or more, some with
		// mTLS, each through two proxies, cost far more than run-to-run
		// noise.
		if med(meshP50) <= med(bypassP50) {
			t.Errorf("%g req/s: end-to-end p50 %.0f µs through the mesh, %.0f µs around it: want the mesh slower",
				rr.RatePerSecond, med(meshP50), med(bypassP50))
		}
		// The table has every edge (p50 and p99), the path, every proxy.
		var edges []string
		for _, row := range rr.Rows {
			if row.Kind == experiment.KindEdge && !slices.Contains(edges, row.Name) {
				edges = append(edges, row.Name)
			}
		}
		for _, c := range top.Calls {
			if !containsPrefix(edges, c.Name()+" ") {
				t.Errorf("%g req/s: no row for edge %s in %v", rr.RatePerSecond, c.Name(), edges)
			}
		}
		if n := len(rr.Rows); n != 2*len(top.Calls)+2+len(top.Pods())+1 {
			t.Errorf("%g req/s: %d rows", rr.RatePerSecond, n)
		}
		for _, row := range rr.Rows {
			if row.Measured.N == 0 || math.IsNaN(row.Predict) || (row.Kind == experiment.KindProxy && row.Predict <= 0) {
				t.Errorf("%g req/s: row %s %s %s: measured %+v, predicted %g", rr.RatePerSecond, row.Kind, row.Name, row.Metric, row.Measured, row.Predict)
			}
		}
		if _, err := os.Stat(rr.GraphPath); err != nil {
			t.Errorf("call graph: %v", err)
		}
		if !strings.Contains(rr.Command, "--fanout parallel") {
			t.Errorf("command %q", rr.Command)
		}
	}
	if rep.Summary.Latency.Rows == 0 || rep.Summary.CPU.Rows == 0 {
		t.Errorf("summary %+v", rep.Summary)
	}
}

func med(v []float64) float64 {
	m, _, _ := loadgen.Spread(v)
	return m
}

func containsPrefix(names []string, prefix string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// assertNothingLeft checks that no network namespace, temporary directory
// or process (proxy, relay, load generator) of the run survived.
func assertNothingLeft(tb testing.TB, prefix string) {
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
	for _, pattern := range []string{prefix + "*", "meshinsight-datapath-" + prefix + "*"} {
		left, _ := filepath.Glob(filepath.Join(os.TempDir(), pattern))
		for _, d := range left {
			tb.Errorf("temporary directory left behind: %s", d)
		}
	}
	// Every helper is this test binary re-executed with its helper argument; every
	// proxy runs as uid 1337 with a config under a directory of the run.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmdline, suite.Helper[1]) || strings.Contains(cmdline, prefix) {
			tb.Errorf("process left behind: %s: %s", filepath.Dir(p), cmdline)
		}
	}
}
