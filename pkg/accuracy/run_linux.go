package accuracy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/accuracy/experiment"
	"github.com/meshinsight/kubectl-meshinsight/pkg/agent"
	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/datapath"
	"github.com/meshinsight/kubectl-meshinsight/pkg/loadgen"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
	"github.com/meshinsight/kubectl-meshinsight/pkg/probe"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/spread"
)

// helperUID runs the relays and the load generator as root, as the agent
// runs its helpers: the nat rules intercept every uid but 1337.
const helperUID = 0

// Run profiles the proxy (unless cfg.ProfilePath is set), then for each
// chain in turn builds it, measures it at every rate with interleaved mesh
// and bypass rounds, predicts the same topology from the profile, compares
// and tears it down. It returns one report per chain measured, also the
// chains done before an error. Everything it creates but cfg.OutDir
// (network namespaces, processes, temporary files) is removed before it
// returns, also on error and when ctx is cancelled. It needs root and
// haproxy.
func Run(ctx context.Context, cfg Config) (_ []*experiment.Report, err error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	logf := func(format string, a ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "meshinsight-agent validate: "+format+"\n", a...)
		}
	}
	prefix := cfg.Prefix
	if prefix == "" {
		b := make([]byte, 2)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("naming the network namespaces: %w", err)
		}
		prefix = "mv-" + hex.EncodeToString(b)
	}
	// Whatever a failure or a signal left behind under this run's prefix
	// goes too (the chain and the agent clean up after themselves; this is
	// the belt to their braces).
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if cerr := datapath.Cleanup(cctx, prefix); cerr != nil {
			err = errors.Join(err, fmt.Errorf("removing leftovers of %s: %w", prefix, cerr))
		}
	}()
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the output directory: %w", err)
	}
	prof, profPath, err := obtainProfile(ctx, cfg, prefix+"p", logf)
	if err != nil {
		return nil, err
	}
	var reps []*experiment.Report
	for i, ch := range cfg.Chains {
		rep, err := runChain(ctx, cfg, ch, prefix+"c"+strconv.Itoa(i), logf)
		if err != nil {
			return reps, fmt.Errorf("chain %s: %w", ch.Name, err)
		}
		rep.Started, rep.Elapsed = start, time.Since(start)
		rep.ProfilePath, rep.ProfileName = profPath, prof.Metadata.Name
		if l := prof.Provenance.Load; l != nil {
			rep.ProfileNodeBusy = l.NodeBusy
		}
		if err := predictChain(cfg, ch, prof, profPath, rep); err != nil {
			return reps, fmt.Errorf("chain %s: %w", ch.Name, err)
		}
		reps = append(reps, rep)
	}
	return reps, nil
}

// runChain builds ch, measures it at every rate and tears it down.
func runChain(ctx context.Context, cfg Config, ch Chain, prefix string, logf func(string, ...any)) (_ *experiment.Report, err error) {
	rep := &experiment.Report{Chain: ch.Name, Setup: ch.Setup(), Topology: ch.Topology, Rounds: cfg.Rounds, RunSeconds: cfg.Duration.Seconds()}
	rep.LoadAverage = append(rep.LoadAverage, loadAverage())
	logf("building the %s chain: %s; %s", ch.Name, strings.Join(ch.Topology.Pods(), ", "), ch.Setup())
	m, err := newMeasurer(ctx, cfg, ch, prefix)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := m.chain.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("tearing down the chain: %w", cerr))
		}
	}()
	for _, rate := range ch.Rates {
		rr, err := m.measureRate(ctx, rate, logf)
		if err != nil {
			return nil, fmt.Errorf("measuring at %g req/s: %w", rate, err)
		}
		rep.Rates = append(rep.Rates, *rr)
	}
	rep.LoadAverage = append(rep.LoadAverage, loadAverage())
	return rep, nil
}

// predictChain predicts every rate of rep, summarizes and writes the
// chain's report into its directory under cfg.OutDir.
func predictChain(cfg Config, ch Chain, prof *profile.Profile, profPath string, rep *experiment.Report) error {
	dir := filepath.Join(cfg.OutDir, ch.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the chain's output directory: %w", err)
	}
	for i := range rep.Rates {
		if err := predictRate(ch, dir, prof, profPath, &rep.Rates[i]); err != nil {
			return err
		}
	}
	rep.Summary = experiment.Summarize(rep.Rates)
	rep.SummaryWithoutQueueing = experiment.SummarizeWithoutQueueing(rep.Rates)
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}

// obtainProfile reads cfg.ProfilePath or profiles the proxy with the
// agent's node-local code and writes the profile to cfg.OutDir.
func obtainProfile(ctx context.Context, cfg Config, prefix string, logf func(string, ...any)) (*profile.Profile, string, error) {
	if cfg.ProfilePath != "" {
		p, err := profile.ReadFile(cfg.ProfilePath)
		if err != nil {
			return nil, "", fmt.Errorf("reading the profile to validate: %w", err)
		}
		return p, cfg.ProfilePath, nil
	}
	// One profile for every chain: the protocols and mTLS settings any of
	// them uses.
	var calls []experiment.Call
	for _, ch := range cfg.Chains {
		calls = append(calls, ch.Topology.Calls...)
	}
	var protocols []string
	var mtls []bool
	for _, c := range calls {
		if !slices.Contains(protocols, string(c.Protocol)) {
			protocols = append(protocols, string(c.Protocol))
		}
	}
	slices.Sort(protocols)
	for _, on := range []bool{false, true} {
		if slices.ContainsFunc(calls, func(c experiment.Call) bool { return c.MTLS == on }) {
			mtls = append(mtls, on)
		}
	}
	acfg := agent.Config{
		Proxy: "haproxy", Protocols: protocols, MTLS: mtls,
		Sizes: cfg.Profile.Sizes, Rates: cfg.Profile.Rates,
		Duration: cfg.Profile.Duration, Rounds: cfg.Profile.Rounds, Connections: cfg.Profile.Connections,
		Helper: cfg.Helper, Prefix: prefix, Progress: cfg.Progress,
	}
	logf("profiling haproxy: %v × mTLS %v × %v req/s × %v B, %d rounds of %v per cell",
		protocols, mtls, cfg.Profile.Rates, cfg.Profile.Sizes, cfg.Profile.Rounds, cfg.Profile.Duration)
	res, err := agent.Run(ctx, acfg)
	if err != nil {
		return nil, "", fmt.Errorf("profiling the proxy: %w", err)
	}
	path := filepath.Join(cfg.OutDir, "profile.json")
	if err := profile.WriteFile(path, res.Profile); err != nil {
		return nil, "", fmt.Errorf("writing the profile: %w", err)
	}
	// The raw cells too: a later fit can be tried on the same chains'
	// measurements without measuring again.
	if err := agent.WriteMeasurements(filepath.Join(cfg.OutDir, "measurements.json"), res.Measurements); err != nil {
		return nil, "", err
	}
	logf("profiled in %v: %s (cells in measurements.json)", res.Elapsed.Round(time.Second), path)
	return res.Profile, path, nil
}

// measurer owns the chain and its relays.
type measurer struct {
	cfg     Config
	ch      Chain
	chain   *datapath.Chain
	proxies map[string]int
	// loader runs load jobs on the entry pod's load server, which keeps
	// its connections from run to run as a long-lived client does.
	loader func(context.Context, agent.LoadJob) (*agent.LoadOutcome, error)
}

// newMeasurer builds the chain and starts a relay in every service pod.
func newMeasurer(ctx context.Context, cfg Config, ch Chain, prefix string) (_ *measurer, err error) {
	bctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	chain, err := datapath.BuildChain(bctx, ch.DatapathSpec(prefix))
	if err != nil {
		return nil, fmt.Errorf("building the chain: %w", err)
	}
	m := &measurer{cfg: cfg, ch: ch, chain: chain, proxies: chain.ProxyPIDs()}
	defer func() {
		if err != nil {
			err = errors.Join(err, chain.Close())
		}
	}()
	// The chain is measured as configured or not at all: a proxy that
	// ignored its thread count would pass for one unlike the agent's.
	for pod, pid := range m.proxies {
		tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
		if err != nil {
			return nil, fmt.Errorf("counting the threads of the %s proxy: %w", pod, err)
		}
		if len(tasks) < ch.threads() {
			return nil, fmt.Errorf("the %s proxy runs %d threads, want %d", pod, len(tasks), ch.threads())
		}
	}
	t := ch.Topology
	for _, s := range t.Services() {
		rc := RelayConfig(t, s, chain.Addr, chain.Dir())
		data, err := json.Marshal(rc)
		if err != nil {
			return nil, fmt.Errorf("encoding the relay config of %s: %w", s, err)
		}
		path := filepath.Join(chain.Dir(), "relay-"+s+".json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("writing the relay config of %s: %w", s, err)
		}
		// The relays live as long as the chain: Close stops them.
		proc, err := chain.Start(context.WithoutCancel(ctx), s, RelayArgv(cfg.Helper, path), helperUID)
		if err != nil {
			return nil, fmt.Errorf("starting the relay of %s: %w", s, err)
		}
		for _, port := range []int{MeshPort, BypassPort} {
			if err := chain.WaitListening(bctx, s, port); err != nil {
				return nil, fmt.Errorf("waiting for the relay of %s on :%d: %w (output: %s)", s, port, err, strings.TrimSpace(proc.Output()))
			}
		}
	}
	m.loader, err = agent.StartLoadServer(bctx, chain.Dir(), "load", cfg.Helper, func(argv []string) (*datapath.Process, error) {
		// The load server lives as long as the chain: Close stops it.
		return chain.Start(context.WithoutCancel(ctx), t.Entry, argv, helperUID)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// loadConfig is the entry's load at rate on side.
func (m *measurer) loadConfig(rate float64, side string, d time.Duration) loadgen.LoadConfig {
	return m.ch.LoadConfig(m.chain.Addr, rate, side, d)
}

// measureRate runs the warm-up and the interleaved rounds at one rate.
func (m *measurer) measureRate(ctx context.Context, rate float64, logf func(string, ...any)) (*experiment.RateResult, error) {
	rr := &experiment.RateResult{RatePerSecond: rate}
	if m.cfg.Warmup > 0 {
		for _, side := range []string{SideMesh, SideBypass} {
			if _, err := m.run(ctx, rate, side, m.cfg.Warmup); err != nil {
				return nil, fmt.Errorf("warming up (%s): %w", side, err)
			}
		}
	}
	var idle []float64
	for i := range m.cfg.Rounds {
		var rd experiment.Round
		for _, side := range []string{SideMesh, SideBypass} {
			run, err := m.run(ctx, rate, side, m.cfg.Duration)
			if err != nil {
				return nil, fmt.Errorf("round %d, %s: %w", i+1, side, err)
			}
			if side == SideMesh {
				rd.Mesh = *run
			} else {
				rd.Bypass = *run
				var sum uint64
				for _, ns := range run.ProxyCPUNanos {
					sum += ns
				}
				idle = append(idle, float64(sum)/1e6/m.cfg.Duration.Seconds())
			}
		}
		logf("[%s, %g req/s, round %d/%d] end to end p50 %.0f µs mesh, %.0f µs bypass; p99 %.0f µs mesh, %.0f µs bypass",
			m.ch.Name, rate, i+1, m.cfg.Rounds, rd.Mesh.P50Micros, rd.Bypass.P50Micros, rd.Mesh.P99Micros, rd.Bypass.P99Micros)
		rr.Rounds = append(rr.Rounds, rd)
	}
	rr.IdleProxyMillicores, _, _ = loadgen.Spread(idle)
	var busy []float64
	for _, rd := range rr.Rounds {
		if rd.Mesh.NodeBusy != nil {
			busy = append(busy, *rd.Mesh.NodeBusy)
		}
	}
	if len(busy) > 0 {
		median := spread.Of(busy).Median
		rr.MeshNodeBusy = &median
	}
	for _, rd := range rr.Rounds {
		if rd.Mesh.Errors+rd.Bypass.Errors > 0 || rd.Mesh.RelayErrors+rd.Bypass.RelayErrors > 0 {
			rr.Notes = append(rr.Notes, "some requests failed (see the rounds in report.json): latency percentiles count completed requests only")
			break
		}
	}
	late := 0
	for _, rd := range rr.Rounds {
		late += rd.Mesh.Late + rd.Bypass.Late
	}
	if late > 0 {
		rr.Notes = append(rr.Notes, fmt.Sprintf("%d requests were sent more than 1 ms late because every connection was busy: the chain (or the machine) fell behind and latency includes queueing", late))
	}
	return rr, nil
}

// run is one load run on one side with the proxies' CPU and the relays'
// stats taken around it.
func (m *measurer) run(ctx context.Context, rate float64, side string, d time.Duration) (*experiment.LoadRun, error) {
	t := m.ch.Topology
	for _, s := range t.Services() {
		if _, err := loadgen.FetchRelayStats(ctx, RelaySocket(m.chain.Dir(), s), true); err != nil {
			return nil, err
		}
	}
	before, err := m.schedstats()
	if err != nil {
		return nil, err
	}
	nodeBefore, nodeErr := probe.ReadNodeCPU()
	res, err := m.load(ctx, m.loadConfig(rate, side, d))
	if err != nil {
		return nil, err
	}
	nodeAfter, err := probe.ReadNodeCPU()
	if err != nil {
		nodeErr = err
	}
	after, err := m.schedstats()
	if err != nil {
		return nil, err
	}
	if res.Completed == 0 {
		return nil, fmt.Errorf("no request completed through the %s path (first error: %s)", side, res.FirstError)
	}
	run := &experiment.LoadRun{
		P50Micros: micros(res.P50), P99Micros: micros(res.P99), AchievedRate: res.AchievedRate,
		Sent: res.Sent, Completed: res.Completed, Errors: res.Errors, Dropped: res.Dropped, Late: res.Late,
		Requests:      res.Completed + res.Probes,
		ProxyCPUNanos: map[string]uint64{}, Edges: map[string]experiment.Latency{}, Handlers: map[string]experiment.Latency{},
	}
	run.ProxyRuns = map[string]uint64{}
	for pod := range m.proxies {
		run.ProxyCPUNanos[pod] = after[pod].OnCPUNanos - before[pod].OnCPUNanos
		run.ProxyRuns[pod] = after[pod].Timeslices - before[pod].Timeslices
	}
	if share, ok := probe.BusyShare(nodeBefore, nodeAfter); ok && nodeErr == nil {
		run.NodeBusy = &share
	}
	for _, s := range t.Services() {
		st, err := loadgen.FetchRelayStats(ctx, RelaySocket(m.chain.Dir(), s), false)
		if err != nil {
			return nil, err
		}
		ls, ok := st.Listener(side)
		if !ok {
			return nil, fmt.Errorf("relay %s has no %s listener", s, side)
		}
		run.Handlers[s] = latencyOf(ls.Handler)
		run.RelayErrors += ls.Errors
		for _, c := range ls.Calls {
			run.Edges[s+"->"+c.To] = latencyOf(c.Edge)
			run.RelayErrors += c.Errors
		}
	}
	return run, nil
}

// schedstats reads every proxy's scheduler accounting.
func (m *measurer) schedstats() (map[string]probe.Schedstat, error) {
	out := make(map[string]probe.Schedstat, len(m.proxies))
	for pod, pid := range m.proxies {
		s, err := probe.ReadSchedstat(pid)
		if err != nil {
			return nil, fmt.Errorf("reading the schedstat of the %s proxy (pid %d): %w", pod, pid, err)
		}
		out[pod] = s
	}
	return out, nil
}

// load runs one load run from the entry pod, so that its traffic leaves
// through the entry pod's sidecar like an app's.
func (m *measurer) load(ctx context.Context, lc loadgen.LoadConfig) (*loadgen.Result, error) {
	lctx, cancel := context.WithTimeout(ctx, lc.Duration+2*lc.Timeout+30*time.Second)
	defer cancel()
	out, err := m.loader(lctx, agent.LoadJob{Mesh: lc, Rounds: 1})
	if err != nil {
		return nil, fmt.Errorf("against %s: %w", lc.Target, err)
	}
	if len(out.Mesh) != 1 {
		return nil, fmt.Errorf("load generator returned %d results, want 1", len(out.Mesh))
	}
	return out.Mesh[0], nil
}

// predictRate writes the rate's call graph into dir, predicts it with the
// profile and fills in the comparison.
func predictRate(ch Chain, dir string, prof *profile.Profile, profPath string, rr *experiment.RateResult) error {
	data, err := callgraph.Marshal(ch.Graph(rr.RatePerSecond), "yaml")
	if err != nil {
		return err
	}
	name := strconv.FormatFloat(rr.RatePerSecond, 'f', -1, 64)
	rr.GraphPath = filepath.Join(dir, "graph-"+name+".yaml")
	if err := os.WriteFile(rr.GraphPath, data, 0o644); err != nil {
		return fmt.Errorf("writing the call graph: %w", err)
	}
	// Predict from the file as written, as `kubectl meshinsight predict -f`
	// would read it.
	parsed, err := callgraph.ReadFile(rr.GraphPath)
	if err != nil {
		return fmt.Errorf("reading back the call graph: %w", err)
	}
	resolved, err := callgraph.Resolve(parsed)
	if err != nil {
		return fmt.Errorf("resolving the call graph: %w", err)
	}
	in := predict.Input{
		Graph: resolved, GraphName: rr.GraphPath, Profile: prof, ProfileSource: profPath, FanOut: predict.Parallel, Queueing: true,
	}
	report, err := predict.Run(in)
	if err != nil {
		return fmt.Errorf("predicting %s: %w", rr.GraphPath, err)
	}
	// The same prediction without the queueing term, to show what it does.
	in.Queueing = false
	without, err := predict.Run(in)
	if err != nil {
		return fmt.Errorf("predicting %s without queueing: %w", rr.GraphPath, err)
	}
	rr.RowsWithoutQueueing = experiment.Compare(ch.Topology, rr.RatePerSecond, rr.Rounds, &without.Baseline)
	out, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the prediction: %w", err)
	}
	rr.PredictionPath = filepath.Join(dir, "prediction-"+name+".json")
	if err := os.WriteFile(rr.PredictionPath, append(out, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the prediction: %w", err)
	}
	rr.Command = fmt.Sprintf("kubectl meshinsight predict -f %s --profile %s --fanout %s -o json", rr.GraphPath, profPath, predict.Parallel)
	for _, msg := range report.Messages {
		rr.Notes = append(rr.Notes, "predictor: "+msg.String())
	}
	rr.Notes = append(rr.Notes, ch.predictionNotes(prof)...)
	rr.Rows = experiment.Compare(ch.Topology, rr.RatePerSecond, rr.Rounds, &report.Baseline)
	return nil
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// loadAverage is the first three fields of /proc/loadavg, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
