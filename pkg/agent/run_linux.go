package agent

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/classify"
	"github.com/meshinsight/kubectl-meshinsight/pkg/loadgen"
	"github.com/meshinsight/kubectl-meshinsight/pkg/probe"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/spread"
	"github.com/meshinsight/kubectl-meshinsight/pkg/symbolize"
)

// Result is a finished local profile: the fitted profile and the raw
// measurements it was fitted from.
type Result struct {
	Profile      *profile.Profile
	Measurements []Measurement
	// Memory are the memory model's measurements, when it was measured.
	Memory  []MemoryMeasurement
	Elapsed time.Duration
}

// loadTimeout bounds each request of the load generator.
const loadTimeout = 2 * time.Second

// Run measures the matrix of cfg and fits a profile. Everything it creates
// (network namespaces, proxies, helpers, eBPF programs, temporary files) is
// torn down before it returns, also when ctx is cancelled or a cell fails.
// It needs root and the proxy's binary.
func Run(ctx context.Context, cfg Config) (_ *Result, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(progress, "meshinsight-agent: "+format+"\n", a...)
	}
	vr, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", vr.prefix+"-agent-")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary directory: %w", err)
	}
	defer func() {
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("removing %s: %w", dir, rmErr))
		}
	}()
	vr.dir = dir
	platform := localPlatform(ctx, cfg.Proxy, cfg.Testbeds == nil)
	if cfg.Mesh != "" {
		platform.Mesh, platform.ProxyVersion = cfg.Mesh, cfg.ProxyVersion
	}
	cpuBefore, statErr := probe.ReadNodeCPU()
	ms, observer, err := measureAll(ctx, vr, start, logf)
	if err != nil {
		return nil, err
	}
	cpuAfter, err := probe.ReadNodeCPU()
	statErr = errors.Join(statErr, err)
	var mem []MemoryMeasurement
	if cfg.measuresMemory() {
		if mem, err = measureMemory(ctx, vr, logf); err != nil {
			return nil, err
		}
	} else if len(cfg.MemoryServices) > 0 {
		logf("[memory] not measured: the memory model needs a local datapath and one of %v", MemoryProxies)
	}
	logf("fitting %d measurements", len(ms))
	where := "local"
	if cfg.Mesh != "" {
		where = cfg.Mesh // a cluster's injected sidecars
	}
	name := fmt.Sprintf("%s-%s-%s", where, cfg.Proxy, start.UTC().Format("20060102-150405"))
	p, err := BuildProfile(ms, name, start, platform)
	if err != nil {
		return nil, err
	}
	p.Provenance.Method += agreementNote(ms)
	p.Provenance.Checks = ChecksOf(ms)
	p.Provenance.Checks.ObserverThroughputRatio = observer
	p.Provenance.Load = &profile.Load{Arrivals: string(vr.arrivals), Connections: vr.conns, ConnectionsKept: "cell"}
	if share, ok := probe.BusyShare(cpuBefore, cpuAfter); ok && statErr == nil {
		p.Provenance.Load.NodeBusy = &share
		logf("the node's CPUs were %.0f%% busy while the cells were measured (every process, the benchmark's own included)", 100*share)
	} else if statErr != nil {
		logf("the node's CPU use was not recorded: %v", statErr)
	}
	p.OperatingPoint = operatingPoint(ms, cfg.Mesh != "")
	if len(mem) > 0 {
		cost, err := MemoryCost(mem, ms)
		if err != nil {
			return nil, err
		}
		p.Proxies = append(p.Proxies, cost)
		p.Provenance.Method += MemoryMethod
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("validating the measured profile: %w", err)
		}
		logf("[memory] %s, R² %.4f%s", describeModel(cost.Memory), cost.Memory.Fit.R2, checkNote(cost.Memory.Fit.Check))
	}
	return &Result{Profile: p, Measurements: ms, Memory: mem, Elapsed: time.Since(start)}, nil
}

// prepare loads what every variant shares: the proxy's classification
// rules, the kernel's symbols, the name prefix and the load's shape.
func prepare(cfg Config) (variantRun, error) {
	if _, err := exec.LookPath(cfg.Proxy); cfg.Testbeds == nil && err != nil {
		return variantRun{}, fmt.Errorf("proxy %s not found: install it (Debian: apt-get install %s): %w", cfg.Proxy, cfg.Proxy, err)
	}
	rules, err := classify.Load(cfg.Proxy)
	if err != nil {
		return variantRun{}, fmt.Errorf("loading classification rules: %w", err)
	}
	ksyms, err := probe.LoadKernelSymbols()
	if err != nil {
		return variantRun{}, fmt.Errorf("loading kernel symbols: %w", err)
	}
	prefix := cfg.Prefix
	if prefix == "" {
		b := make([]byte, 3)
		if _, err := rand.Read(b); err != nil {
			return variantRun{}, fmt.Errorf("naming the datapaths: %w", err)
		}
		prefix = "mi-" + hex.EncodeToString(b)
	}
	conns, arrivals := cfg.load()
	return variantRun{cfg: cfg, rules: rules, ksyms: ksyms, prefix: prefix, conns: conns, arrivals: arrivals}, nil
}

// measureAll measures every variant of the matrix on its own testbed, the
// first one after measuring what the probes cost (the returned ratio).
func measureAll(ctx context.Context, base variantRun, start time.Time, logf func(string, ...any)) ([]Measurement, float64, error) {
	cfg := base.cfg
	cells := cfg.Cells()
	perVariant := len(cfg.Rates) * len(cfg.Sizes)
	var ms []Measurement
	var observer float64
	for v := 0; v < len(cells)/perVariant; v++ {
		first := cells[v*perVariant]
		logf("[variant %d/%d] %s mtls=%s: building the datapath", v+1, len(cells)/perVariant, first.Protocol, onOff(first.MTLS))
		vr := base
		vr.prefix = fmt.Sprintf("%s%d", base.prefix, v)
		vr.cells = cells[v*perVariant : (v+1)*perVariant]
		done := len(ms)
		vr.onCell = cellLogger(cfg, start, len(cells), logf, func(i int) int { return done + i + 1 })
		if cfg.Budget > 0 {
			measured := 0
			vr.onCell = counting(vr.onCell, &measured)
			vr.deadline = func() time.Time {
				left := len(cells) - done - measured
				return time.Now().Add(time.Until(start.Add(cfg.Budget)) / time.Duration(max(left, 1)))
			}
		}
		if v == 0 {
			vr.observer = &observer
		}
		got, err := measureVariant(ctx, vr)
		if v == 0 && observer > 0 {
			logf("the probes cost the proxies %.1f%% of their closed-loop throughput (with ÷ without: %.3f)", 100*(1-observer), observer)
		}
		ms = append(ms, got...)
		if err != nil {
			return nil, 0, err
		}
	}
	return ms, observer, nil
}

// counting wraps onCell to count the cells measured.
func counting(onCell func(int, Measurement), n *int) func(int, Measurement) {
	return func(i int, m Measurement) {
		*n++
		onCell(i, m)
	}
}

// cellLogger reports each measured cell: to CellDone, and as a progress
// line with an estimate of the time left. number turns a variant's cell
// index into the cell's number in the whole matrix.
func cellLogger(cfg Config, start time.Time, total int, logf func(string, ...any), number func(int) int) func(int, Measurement) {
	// A first guess of a cell's wall time; replaced by the measured mean.
	cellGuess := time.Duration(2*cfg.Rounds)*(cfg.Duration+150*time.Millisecond) + 200*time.Millisecond
	return func(i int, m Measurement) {
		done := number(i)
		if cfg.CellDone != nil {
			cfg.CellDone(done, total)
		}
		mean := time.Since(start) / time.Duration(done)
		if done == 1 {
			mean = max(mean, cellGuess)
		}
		eta := mean * time.Duration(total-done)
		p50 := m.AddedP50Micros()
		node := ""
		if busy, ok := m.NodeBusy(); ok {
			node = fmt.Sprintf(", node %.0f%% busy", 100*busy)
		}
		logf("[cell %d/%d] %s: %.1f CPU-µs/req, added p50 %.0f µs [%.0f, %.0f], eBPF/schedstat within %.1f%%%s (ETA %v)",
			done, total, m.Cell, m.CPUMicrosPerRequest(), p50.Median, p50.Min, p50.Max,
			100*maxAgreement(m), node, eta.Round(time.Second))
		if m.Overloaded() {
			logf("[cell %d/%d] warning: %d mesh and %d bypass requests of %d late, %d failed: the machine could not keep up with %g req/s; latency includes queueing",
				done, total, m.MeshLate, m.BypassLate, m.MeshRequests, m.MeshErrors, m.RatePerSecond)
		}
	}
}

// agreementNote summarises the eBPF/schedstat cross-check for the
// provenance.
func agreementNote(ms []Measurement) string {
	var a []float64
	for _, m := range ms {
		for _, s := range m.Sides {
			a = append(a, s.Agreement())
		}
	}
	med, _, worst := loadgen.Spread(a)
	return fmt.Sprintf("; eBPF vs schedstat on-CPU per cell and proxy: median %.1f%% apart, worst %.1f%% (%d figures)",
		100*med, 100*worst, len(a))
}

func maxAgreement(m Measurement) float64 {
	var worst float64
	for _, s := range m.Sides {
		worst = max(worst, s.Agreement())
	}
	return worst
}

// variantRun is one datapath's share of the matrix.
type variantRun struct {
	cfg      Config
	rules    *classify.Rules
	ksyms    *probe.KernelSymbols
	dir      string
	prefix   string
	conns    int
	arrivals loadgen.Arrivals
	cells    []Cell
	onCell   func(i int, m Measurement)
	// observer, when set, receives the probes' throughput cost on this
	// variant's proxies (observerRatio), measured before its cells.
	observer *float64
	// deadline, when set, says by when the next cell should stop adding
	// rounds (its share of the budget).
	deadline func() time.Time
}

// measureVariant builds one datapath, attaches the probes to its proxies,
// measures its cells and tears everything down.
func measureVariant(ctx context.Context, vr variantRun) (ms []Measurement, err error) {
	first := vr.cells[0]
	proto := loadgen.HTTP
	if first.Protocol == "tcp" {
		proto = loadgen.TCP
	}
	fail := func(what string, err error) error {
		return fmt.Errorf("variant %s mtls=%s: %s: %w", first.Protocol, onOff(first.MTLS), what, err)
	}
	rig, pids, syms, err := openTestbed(ctx, vr)
	if err != nil {
		return nil, fail("building the testbed", err)
	}
	defer func() { err = errors.Join(err, rig.Close()) }()
	// Warm the proxies up (connections, TLS session state, page faults)
	// before anything is measured.
	warm := loadgen.LoadConfig{
		Protocol: proto, Target: rig.MeshTarget(), RatePerSecond: first.RatePerSecond,
		RequestBytes: first.Bytes, ResponseBytes: first.Bytes, Duration: 300 * time.Millisecond,
		Connections: vr.conns, Arrivals: vr.arrivals, Timeout: loadTimeout,
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = rig.RunLoad(wctx, LoadJob{Mesh: warm, Rounds: 1})
	cancel()
	if err != nil {
		return nil, fail("warming up", err)
	}
	if vr.observer != nil {
		f, err := ObserverRatio(ctx, rig, proto, vr.conns, pids, vr.cfg.samplePeriod(), observerPairs, observerRun)
		if err != nil {
			return nil, fail("measuring the probes' cost", err)
		}
		*vr.observer = f.Median
	}
	sched, stacks, detach, err := attachProbes(pids, vr.cfg.samplePeriod())
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, detach()) }()

	sides := []profile.Side{profile.Outbound, profile.Inbound}
	for i, c := range vr.cells {
		m, err := measureCell(ctx, vr, rig, c, proto, sched, stacks, pids, sides, syms)
		if err != nil {
			return ms, fmt.Errorf("cell %s: %w", c, err)
		}
		ms = append(ms, m)
		if vr.onCell != nil {
			vr.onCell(i, m)
		}
	}
	return ms, nil
}

// testbedAttempts bounds how often a testbed is built again because one of
// its proxies exited between being found and being read.
const testbedAttempts = 3

// openTestbed builds the variant's testbed and reads its proxies' symbols.
// A proxy process may be replaced right after it was found (a sidecar that
// restarts on a configuration change, as the stand-in's haproxy does when
// the bench pods' endpoints arrive): its /proc entry is then gone, and the
// testbed is built again, which finds the new process.
func openTestbed(ctx context.Context, vr variantRun) (Testbed, []int, map[int]*symbolize.Process, error) {
	for attempt := 1; ; attempt++ {
		rig, err := newTestbed(ctx, vr)
		if err != nil {
			return nil, nil, nil, err
		}
		out, in := rig.ProxyPIDs()
		pids := []int{out, in}
		syms, err := symbolsOf(pids)
		if err == nil {
			return rig, pids, syms, nil
		}
		err = errors.Join(err, rig.Close())
		if !errors.Is(err, fs.ErrNotExist) || attempt == testbedAttempts || ctx.Err() != nil {
			return nil, nil, nil, err
		}
	}
}

// newTestbed builds the variant's testbed, within a minute.
func newTestbed(ctx context.Context, vr variantRun) (Testbed, error) {
	first := vr.cells[0]
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	newBed := vr.cfg.Testbeds
	if newBed == nil {
		newBed = LocalTestbeds
	}
	return newBed(ctx, Variant{
		Protocol: first.Protocol, MTLS: first.MTLS, Prefix: vr.prefix, Proxy: vr.cfg.Proxy,
		Helper: vr.cfg.Helper, Dir: vr.dir,
	})
}

// symbolsOf reads the proxies' symbols, refusing unreadable executables.
func symbolsOf(pids []int) (map[int]*symbolize.Process, error) {
	syms := make(map[int]*symbolize.Process, len(pids))
	for _, pid := range pids {
		s, err := symbolize.ForProcess(pid)
		if err == nil {
			err = readable(s)
		}
		if err != nil {
			return nil, fmt.Errorf("reading the symbols of proxy %d: %w", pid, err)
		}
		syms[pid] = s
	}
	return syms, nil
}

// attachProbes loads the scheduler probe and the stack sampler and
// attaches both to pids; detach closes them.
func attachProbes(pids []int, period time.Duration) (_ *probe.Sched, _ *probe.Stacks, detach func() error, err error) {
	sched, err := probe.NewSched()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("loading the scheduler probe: %w", err)
	}
	stacks, err := probe.NewStacks(probe.StacksOptions{Period: period})
	if err != nil {
		return nil, nil, nil, errors.Join(fmt.Errorf("loading the stack sampler: %w", err), closeProbe("scheduler", sched.Close))
	}
	detach = func() error {
		return errors.Join(closeProbe("scheduler", sched.Close), closeProbe("stack sampler", stacks.Close))
	}
	if err := sched.Start(pids); err != nil {
		return nil, nil, nil, errors.Join(fmt.Errorf("attaching the scheduler probe to proxies %v: %w", pids, err), detach())
	}
	if err := stacks.Start(pids); err != nil {
		return nil, nil, nil, errors.Join(fmt.Errorf("attaching the stack sampler to proxies %v: %w", pids, err), detach())
	}
	return sched, stacks, detach, nil
}

// readable fails when a module of the proxy could not be read for want of
// permission: its stack samples would all fall into proxy-other, a profile
// that looks measured but is not. (A stripped binary is no error.)
func readable(p *symbolize.Process) error {
	for _, m := range p.Modules() {
		if errors.Is(m.Err, fs.ErrPermission) {
			return fmt.Errorf("%s: %w (reading another user's executables through /proc/PID/root needs CAP_SYS_PTRACE)", m.Path, m.Err)
		}
	}
	return nil
}

// A profile measures its probes' cost in observerPairs pairs of
// observerRun runs (about 5 s).
const (
	observerPairs = 4
	observerRun   = 500 * time.Millisecond
)

// ObserverRatio measures what the agent's probes cost the proxies of rig
// (pids): closed-loop throughput through both with the probes attached ÷
// without, in pairs of runs of length run in ABBA order (the machine's
// drift cancels out), 1 KiB messages. Closed loop saturates the proxies,
// so this is the worst case. It returns the pairs' ratios.
func ObserverRatio(ctx context.Context, rig Testbed, proto loadgen.Protocol, conns int, pids []int, period time.Duration,
	pairs int, run time.Duration) (spread.Figure, error) {
	lc := loadgen.LoadConfig{Protocol: proto, Target: rig.MeshTarget(), RequestBytes: 1024, ResponseBytes: 1024,
		Duration: run, Connections: conns, Timeout: loadTimeout}
	throughput := func(probed bool) (_ float64, err error) {
		if probed {
			_, _, detach, err := attachProbes(pids, period)
			if err != nil {
				return 0, err
			}
			defer func() { err = errors.Join(err, detach()) }()
		}
		out, err := rig.RunLoad(ctx, LoadJob{Mesh: lc, Rounds: 1})
		if err != nil {
			return 0, err
		}
		if len(out.Mesh) != 1 || out.Mesh[0].Completed == 0 {
			return 0, errors.New("no request completed")
		}
		return out.Mesh[0].AchievedRate, nil
	}
	var ratios []float64
	for i := range pairs {
		order := []bool{false, true}
		if i%2 == 1 {
			order = []bool{true, false}
		}
		var rate [2]float64 // without, with
		for _, probed := range order {
			r, err := throughput(probed)
			if err != nil {
				return spread.Figure{}, err
			}
			rate[btoi(probed)] = r
		}
		ratios = append(ratios, rate[1]/rate[0])
	}
	return spread.Of(ratios), nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func closeProbe(what string, f func() error) error {
	if err := f(); err != nil {
		return fmt.Errorf("closing the %s: %w", what, err)
	}
	return nil
}

// measureCell runs one cell's interleaved load with the probes attached,
// one mesh/bypass round at a time: at least the configured rounds, then
// more until the cell is precise, has run its most rounds, or has spent
// its share of the budget.
func measureCell(ctx context.Context, vr variantRun, rig Testbed, c Cell, proto loadgen.Protocol,
	sched *probe.Sched, stacks *probe.Stacks, pids []int, sides []profile.Side,
	syms map[int]*symbolize.Process) (Measurement, error) {
	start := time.Now()
	lc := loadgen.LoadConfig{
		Protocol: proto, Target: rig.MeshTarget(), RatePerSecond: c.RatePerSecond,
		RequestBytes: c.Bytes, ResponseBytes: c.Bytes, Duration: vr.cfg.Duration,
		Connections: vr.conns, Arrivals: vr.arrivals, Timeout: loadTimeout,
	}
	bypass := lc
	bypass.Target = rig.BypassTarget()
	least, most, precision := vr.cfg.roundsRange()
	var deadline time.Time
	if vr.deadline != nil {
		deadline = vr.deadline()
	}
	if err := stacks.Reset(); err != nil {
		return Measurement{}, fmt.Errorf("resetting the stack sampler: %w", err)
	}
	first, err := takeSnapshot(sched, pids)
	if err != nil {
		return Measurement{}, err
	}
	m := Measurement{Cell: c}
	last := first
	for r := 0; r < most; r++ {
		if r >= least && (m.Precise(precision) || !deadline.IsZero() && time.Now().After(deadline)) {
			break
		}
		lctx, cancel := context.WithTimeout(ctx, 2*(vr.cfg.Duration+2*loadTimeout)+30*time.Second)
		outcome, err := rig.RunLoad(lctx, LoadJob{Mesh: lc, Bypass: bypass, Rounds: 1})
		cancel()
		if err != nil {
			return Measurement{}, err
		}
		now, err := takeSnapshot(sched, pids)
		if err != nil {
			return Measurement{}, err
		}
		if err := m.addRound(r, outcome, now.onCPU(pids)-last.onCPU(pids)); err != nil {
			return Measurement{}, err
		}
		if share, ok := probe.BusyShare(last.node, now.node); ok && last.nodeOK && now.nodeOK {
			m.Rounds[len(m.Rounds)-1].NodeBusy = &share
		}
		last = now
	}
	samples, err := stacks.Snapshot()
	if err != nil {
		return Measurement{}, fmt.Errorf("reading stack samples: %w", err)
	}
	counts := classifySamples(vr.rules, vr.ksyms, syms, samples)
	for i, pid := range pids {
		rss, _ := readRSS(pid) // 0 when unreadable: no memory check
		m.Sides = append(m.Sides, SideMeasurement{
			Side:                sides[i],
			PID:                 pid,
			RSSBytes:            rss,
			OnCPUNanos:          last.sched[pid].on - first.sched[pid].on,
			RunqWaitNanos:       last.sched[pid].wait - first.sched[pid].wait,
			SchedstatOnCPUNanos: last.schedstat[i].OnCPUNanos - first.schedstat[i].OnCPUNanos,
			Runs:                last.schedstat[i].Timeslices - first.schedstat[i].Timeslices,
			Samples:             counts[pid],
		})
	}
	m.Elapsed = time.Since(start)
	return m, nil
}

// cellSnapshot is the proxies' CPU accounting at one instant, from the
// eBPF probe and from /proc schedstat.
type cellSnapshot struct {
	sched     map[int]schedTotal
	schedstat []probe.Schedstat
	// node is the node's CPU times; nodeOK is false when /proc/stat was
	// unreadable (the rounds then carry no node share).
	node   probe.NodeCPU
	nodeOK bool
}

func takeSnapshot(sched *probe.Sched, pids []int) (cellSnapshot, error) {
	t, err := schedTotals(sched)
	if err != nil {
		return cellSnapshot{}, err
	}
	ss, err := schedstats(pids)
	if err != nil {
		return cellSnapshot{}, err
	}
	node, err := probe.ReadNodeCPU()
	return cellSnapshot{sched: t, schedstat: ss, node: node, nodeOK: err == nil}, nil
}

// onCPU sums the eBPF on-CPU time of pids.
func (s cellSnapshot) onCPU(pids []int) uint64 {
	var ns uint64
	for _, pid := range pids {
		ns += s.sched[pid].on
	}
	return ns
}

// addRound adds round i of the load (one mesh and one bypass run) with the
// proxies' on-CPU time during it.
func (m *Measurement) addRound(i int, outcome *LoadOutcome, cpuNanos uint64) error {
	if len(outcome.Mesh) != 1 || len(outcome.Bypass) != 1 {
		return fmt.Errorf("load generator returned %d mesh and %d bypass runs, want 1 each", len(outcome.Mesh), len(outcome.Bypass))
	}
	mr, br := outcome.Mesh[0], outcome.Bypass[0]
	if mr.Completed == 0 || br.Completed == 0 {
		return fmt.Errorf("round %d completed %d mesh and %d bypass requests (first errors: %q, %q)",
			i+1, mr.Completed, br.Completed, mr.FirstError, br.FirstError)
	}
	// The readiness requests of the session's connections (first round)
	// crossed the proxies too.
	requests := mr.Completed + mr.Probes
	m.MeshRequests += requests
	m.MeshErrors += mr.Errors
	m.MeshLate += mr.Late
	m.BypassLate += br.Late
	m.BypassErrors += br.Errors
	m.Rounds = append(m.Rounds, Round{
		MeshP50Micros: micros(mr.P50), MeshP99Micros: micros(mr.P99),
		BypassP50Micros: micros(br.P50), BypassP99Micros: micros(br.P99),
		MeshRequests: requests, CPUMicrosPerRequest: float64(cpuNanos) / 1e3 / float64(requests),
		MeshAchievedRate: mr.AchievedRate,
	})
	rates := make([]float64, len(m.Rounds))
	for i, r := range m.Rounds {
		rates[i] = r.MeshAchievedRate
	}
	m.MeshAchievedRate = spread.Of(rates).Median
	return nil
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

type schedTotal struct{ on, wait uint64 }

// schedTotals sums the eBPF accounting of each process's threads.
func schedTotals(s *probe.Sched) (map[int]schedTotal, error) {
	threads, err := s.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("reading the scheduler probe: %w", err)
	}
	out := map[int]schedTotal{}
	for _, t := range threads {
		st := out[t.TGID]
		st.on += t.OnCPUNanos
		st.wait += t.RunqWaitNanos
		out[t.TGID] = st
	}
	return out, nil
}

func schedstats(pids []int) ([]probe.Schedstat, error) {
	out := make([]probe.Schedstat, len(pids))
	for i, pid := range pids {
		s, err := probe.ReadSchedstat(pid)
		if err != nil {
			return nil, fmt.Errorf("reading the schedstat of proxy %d: %w", pid, err)
		}
		out[i] = s
	}
	return out, nil
}

// classifySamples symbolizes and classifies stack samples per process.
func classifySamples(rules *classify.Rules, ksyms *probe.KernelSymbols, syms map[int]*symbolize.Process,
	samples []probe.Sample) map[int]map[profile.Component]uint64 {
	out := map[int]map[profile.Component]uint64{}
	for _, s := range samples {
		sym, ok := syms[s.TGID]
		if !ok {
			continue
		}
		kernel := make([]string, 0, len(s.KernelStack))
		for _, addr := range s.KernelStack {
			name, _ := ksyms.Resolve(addr)
			kernel = append(kernel, name)
		}
		user := sym.ResolveStack(s.UserStack)
		comp := rules.ClassifyFrames(kernel, user)
		if out[s.TGID] == nil {
			out[s.TGID] = map[profile.Component]uint64{}
		}
		out[s.TGID][comp] += s.Count
	}
	return out
}

// localPlatform describes this machine and proxy for the provenance. Facts
// that cannot be read are left empty rather than failing the run.
func localPlatform(ctx context.Context, proxy string, askProxy bool) profile.Platform {
	p := profile.Platform{Proxy: proxy, Mesh: "local-datapath", NodeType: "local"}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				p.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		p.Kernel = strings.TrimSpace(string(b))
	}
	if !askProxy {
		return p
	}
	vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if b, err := exec.CommandContext(vctx, proxy, "-v").CombinedOutput(); err == nil {
		p.ProxyVersion = proxyVersion(string(b))
	}
	return p
}
