package agent

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/loadgen"
)

// Defaults of a full local profile (the CLI's flag defaults and the
// benchmark's matrix): 2 protocols × 2 mTLS settings × 4 sizes × 2 rates =
// 32 cells of 3 interleaved mesh/bypass rounds of 1 s runs each, which
// measured 3 min 20 s on this 2-core VM (make bench-agent). 2 s runs
// halve the p99 noise but take 6–7 minutes.
var (
	DefaultProtocols = []string{string(dataplane.TCP), string(dataplane.HTTP)}
	DefaultSizes     = []int{128, 1024, 4096, 16384}
	DefaultRates     = []float64{500, 2000}
)

// DefaultDuration and DefaultRounds: see DefaultProtocols. A cell runs
// DefaultRounds rounds, then more, up to DefaultMaxRounds, until its CPU
// per request and added p50 are known to DefaultPrecision (the standard
// error of the mean over rounds, relative to it) or its share of
// DefaultBudget is spent.
const (
	DefaultDuration  = time.Second
	DefaultRounds    = 3
	DefaultMaxRounds = 8
	DefaultPrecision = 0.05
	DefaultBudget    = 5 * time.Minute
)

// DefaultConnections and DefaultArrivals shape the load the way many
// independent clients of a service do: Poisson arrivals (exponential gaps)
// over a few keep-alive connections, kept open across a cell's rounds. The
// arrival process matters: a proxy that is woken once for several requests
// arriving together spends far less CPU per request (a generator whose
// clients fire in lock-step measured about half), while independent
// clients, paced or Poisson, measured the same within a few per cent
// (README, "Accuracy": the keep-alive check). Four connections keep
// Poisson bursts from queueing behind a busy connection at the default
// rates.
const (
	DefaultConnections = 4
	DefaultArrivals    = loadgen.Poisson
)

// Proxies the local profile can measure (implementations in pkg/datapath).
var Proxies = []string{"haproxy", "nginx"}

// ErrInvalidConfig is wrapped by every error of Config.Validate.
var ErrInvalidConfig = errors.New("invalid agent config")

// Config is one local profiling run: the matrix of protocols × mTLS ×
// rates × sizes and how each cell is measured.
type Config struct {
	// Proxy is the sidecar proxy to measure: one of Proxies.
	Proxy string
	// Protocols are the profile protocols to measure ("tcp", "http").
	Protocols []string
	// MTLS lists the mTLS settings to measure.
	MTLS []bool
	// Sizes are the request and response payload sizes in bytes.
	Sizes []int
	// Rates are the open-loop request rates in requests per second. The
	// lowest is the reference rate of the fitted models.
	Rates []float64
	// Duration is the length of each load run (each mesh and each bypass run
	// of each round).
	Duration time.Duration
	// Rounds is the least number of interleaved mesh/bypass pairs per
	// cell.
	Rounds int
	// MaxRounds is the most; zero means Rounds (a fixed count). Between
	// the two, a cell stops once its CPU per request and its added p50
	// are known to Precision.
	MaxRounds int
	// Precision is the relative standard error at which a cell stops
	// early; zero means DefaultPrecision.
	Precision float64
	// Budget bounds the whole profile's measuring: cells stop adding
	// rounds when their share of what is left is spent (never below
	// Rounds). Zero means no bound.
	Budget time.Duration
	// Connections is the number of keep-alive connections of the load
	// generator; zero means DefaultConnections.
	Connections int
	// Arrivals is the load's arrival process; empty means DefaultArrivals.
	Arrivals loadgen.Arrivals
	// SamplePeriod is the stack-sampling period on each CPU; zero means
	// DefaultSamplePeriod.
	SamplePeriod time.Duration
	// Helper is the argv prefix of a program implementing the "serve" and
	// "load" helper subcommands (ServeArgv, LoadArgv), re-executed inside the
	// pods; typically the agent's own executable.
	Helper []string
	// Prefix names the datapaths (network namespaces and temporary
	// directories); empty means "mi-" and six random hex digits. At most 10
	// characters: a digit per variant is appended.
	Prefix string
	// Progress receives progress lines; nil discards them.
	Progress io.Writer
	// Mesh and ProxyVersion describe a testbed the agent did not build
	// (recorded in the profile's platform); empty for the local datapath.
	Mesh, ProxyVersion string
	// Testbeds builds the testbed of each variant; nil means LocalTestbeds,
	// a datapath the agent builds on this node.
	Testbeds TestbedFunc
	// CellDone, when set, is called after each measured cell with the
	// number of cells done and in total (the in-cluster hand-off reports
	// it to the CLI's progress bar).
	CellDone func(done, total int)
	// MemoryServices, MemoryEndpoints and MemoryThreads are the
	// configurations the proxy's memory is measured with (every
	// combination of upstream services, endpoints per service and worker
	// threads; DefaultMemoryServices etc.); no services means no memory
	// model. Only a datapath the agent builds, with a proxy of
	// MemoryProxies, measures it.
	MemoryServices, MemoryEndpoints, MemoryThreads []int
}

// DefaultSamplePeriod is the agent's stack-sampling period: 99 Hz per CPU
// (off the kernel's 100/250 Hz tick so samples do not lock step with it).
// Stack samples only split each cell's CPU into components; the CPU itself
// comes from the scheduler probe, and the component models are fitted over
// all cells, so a few dozen samples per cell suffice. A faster clock costs
// the proxy throughput on this VM: closed-loop through two haproxy
// sidecars, the stack sampler alone measured throughput ratios of 0.83 at
// 1 kHz and 0.97 at 100 Hz (pairs of interleaved 2 s runs, load ~3), while
// the scheduler probe alone measured 1.01.
const DefaultSamplePeriod = time.Second / 99

// supportedProtocols are the protocols the local datapath carries.
var supportedProtocols = []string{string(dataplane.TCP), string(dataplane.HTTP)}

// Validate checks c without doing any I/O.
func (c Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...)
	}
	if c.Testbeds == nil && !slices.Contains(Proxies, c.Proxy) {
		return bad("proxy %q: want one of %v", c.Proxy, Proxies)
	}
	if c.Proxy == "" {
		return bad("no proxy")
	}
	if len(c.Protocols) == 0 {
		return bad("no protocols")
	}
	for _, p := range c.Protocols {
		if !slices.Contains(supportedProtocols, p) {
			return bad("protocol %q: the local datapath measures %v", p, supportedProtocols)
		}
	}
	if len(c.MTLS) == 0 {
		return bad("no mTLS setting")
	}
	if len(c.Sizes) == 0 {
		return bad("no sizes")
	}
	for _, s := range c.Sizes {
		if s < 0 || s > 16<<20 {
			return bad("size %d: want 0 to 16 MiB", s)
		}
	}
	if len(c.Rates) == 0 {
		return bad("no rates")
	}
	for _, r := range c.Rates {
		if !(r > 0) || r > 100_000 {
			return bad("rate %g: want above 0 and at most 100000 req/s", r)
		}
	}
	if c.Duration < 100*time.Millisecond || c.Duration > 5*time.Minute {
		return bad("duration %v: want 100ms to 5m", c.Duration)
	}
	if c.Rounds < 1 || c.Rounds > 100 {
		return bad("rounds %d: want 1 to 100", c.Rounds)
	}
	if c.MaxRounds != 0 && (c.MaxRounds < c.Rounds || c.MaxRounds > 100) {
		return bad("max rounds %d: want 0 (= rounds) or %d to 100", c.MaxRounds, c.Rounds)
	}
	if c.Precision < 0 || c.Precision >= 1 {
		return bad("precision %g: want 0 (default) up to 1", c.Precision)
	}
	if c.Budget < 0 {
		return bad("budget %v: want 0 (none) or a positive duration", c.Budget)
	}
	if c.Connections < 0 || c.Connections > 256 {
		return bad("connections %d: want 0 (default) to 256", c.Connections)
	}
	if c.Arrivals != "" && c.Arrivals != loadgen.Uniform && c.Arrivals != loadgen.Poisson {
		return bad("arrivals %q: want %s or %s", c.Arrivals, loadgen.Poisson, loadgen.Uniform)
	}
	if c.SamplePeriod < 0 || (c.SamplePeriod > 0 && c.SamplePeriod < 100*time.Microsecond) {
		return bad("sample period %v: want 0 (default) or at least 100µs", c.SamplePeriod)
	}
	if len(c.Helper) == 0 {
		return bad("no helper program")
	}
	if len(c.Prefix) > 10 {
		return bad("prefix %q: at most 10 characters", c.Prefix)
	}
	if err := c.validateMemory(); err != nil {
		return bad("%v", err)
	}
	return nil
}

// Cells lists the matrix in measurement order: variants (protocol, mTLS) in
// the outer loop, then rates, then sizes.
func (c Config) Cells() []Cell {
	var cells []Cell
	for _, p := range c.Protocols {
		for _, m := range c.MTLS {
			for _, r := range c.Rates {
				for _, s := range c.Sizes {
					cells = append(cells, Cell{Protocol: p, MTLS: m, RatePerSecond: r, Bytes: s})
				}
			}
		}
	}
	return cells
}

// load returns the connections and arrival process of the load, with the
// defaults filled in.
func (c Config) load() (int, loadgen.Arrivals) {
	conns, arrivals := c.Connections, c.Arrivals
	if conns == 0 {
		conns = DefaultConnections
	}
	if arrivals == "" {
		arrivals = DefaultArrivals
	}
	return conns, arrivals
}

// samplePeriod is the stack-sampling period, with the default filled in.
func (c Config) samplePeriod() time.Duration {
	if c.SamplePeriod == 0 {
		return DefaultSamplePeriod
	}
	return c.SamplePeriod
}

// roundsRange returns the least and the most rounds per cell and the
// precision that stops a cell between them.
func (c Config) roundsRange() (least, most int, precision float64) {
	least, most, precision = c.Rounds, c.MaxRounds, c.Precision
	if most == 0 {
		most = least
	}
	if precision == 0 {
		precision = DefaultPrecision
	}
	return least, most, precision
}
