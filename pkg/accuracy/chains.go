package accuracy

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/accuracy/experiment"
	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/datapath"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// Chain is one application a validation measures: its topology, how its
// sidecars are configured and how the load generator drives it. Every
// chain of a run is predicted from the same profile, which the agent takes
// on its own two-pod datapath with its own configuration.
type Chain struct {
	// Name selects the chain (validate --chains) and names its output
	// directory: 1-20 characters of [a-z0-9-], starting with a letter.
	Name     string
	Topology experiment.Topology
	// Proxy is the sidecars' haproxy tuning (reuse policy, timeouts); the
	// zero value is the agent's.
	Proxy datapath.HAProxy
	// ProxyThreads and MaxConn are every sidecar's worker threads and
	// connection cap; zero means the agent's, 1 and 4096.
	ProxyThreads int
	MaxConn      int
	// Connections is the number of keep-alive connections of the load
	// generator in the entry pod.
	Connections int
	// Rates are the entry rates measured, in req/s, unless Config.Rates
	// overrides them.
	Rates []float64
}

// The agent's sidecar configuration, which a chain's zero values mean.
const (
	agentProxyThreads = 1
	agentMaxConn      = 4096
)

// DefaultChain is the first chain: DefaultTopology with the agent's own
// sidecar configuration, 8 load connections, at 150 and 450 req/s.
func DefaultChain() Chain {
	return Chain{Name: "default", Topology: experiment.DefaultTopology(), Connections: DefaultConnections, Rates: DefaultRates}
}

// DiamondChain is a chain the profile's datapath did not shape:
// DiamondTopology (a fan-out of three, a store called by two callers, the
// gateway's sidecar serving four edges), sidecars configured unlike the
// agent's (two worker threads, http-reuse always instead of safe, a lower
// connection cap and other timeouts) and a load generator with 32
// connections instead of 8, at 150 and 300 req/s (the gateway's sidecar
// then carries 600 and 1200 req/s, inside the profile's rates).
func DiamondChain() Chain {
	return Chain{
		Name: "diamond", Topology: experiment.DiamondTopology(),
		Proxy: datapath.HAProxy{HTTPReuse: "always", Timeouts: datapath.HAProxyTimeouts{
			Connect: 2 * time.Second, Client: 30 * time.Second, Server: 30 * time.Second,
		}},
		ProxyThreads: 2, MaxConn: 1024, Connections: 32, Rates: []float64{150, 300},
	}
}

// Chains lists the built-in chains in the order a validation runs them.
func Chains() []Chain { return []Chain{DefaultChain(), DiamondChain()} }

// ChainNames lists the names of the built-in chains.
func ChainNames() []string {
	var names []string
	for _, c := range Chains() {
		names = append(names, c.Name)
	}
	return names
}

// ChainsNamed returns the built-in chains called names, in the order given.
func ChainsNamed(names []string) ([]Chain, error) {
	var out []Chain
	for _, n := range names {
		i := slices.IndexFunc(Chains(), func(c Chain) bool { return c.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("%w: unknown chain %q: want one of %s", ErrInvalidConfig, n, strings.Join(ChainNames(), ", "))
		}
		if slices.ContainsFunc(out, func(c Chain) bool { return c.Name == n }) {
			return nil, fmt.Errorf("%w: chain %q named twice", ErrInvalidConfig, n)
		}
		out = append(out, Chains()[i])
	}
	return out, nil
}

var chainNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)

// validate checks c without I/O.
func (c Chain) validate() error {
	var errs []error
	if !chainNameRE.MatchString(c.Name) {
		errs = append(errs, fmt.Errorf("name %q: want 1-20 characters of [a-z0-9-], starting with a letter", c.Name))
	}
	if err := c.Topology.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("topology: %w", err))
	}
	if len(c.Rates) == 0 {
		errs = append(errs, errors.New("no rates"))
	}
	for _, r := range c.Rates {
		if !(r > 0) || r > 20_000 {
			errs = append(errs, fmt.Errorf("rate %g: want above 0 and at most 20000 req/s", r))
		}
	}
	if c.Connections < 1 || c.Connections > 256 {
		errs = append(errs, fmt.Errorf("connections %d: want 1 to 256", c.Connections))
	}
	if err := c.DatapathSpec("mv-check").Validate(); err != nil {
		errs = append(errs, fmt.Errorf("datapath: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("chain %s: %w", c.Name, err)
	}
	return nil
}

// threads is the sidecars' worker thread count.
func (c Chain) threads() int { return cmp.Or(c.ProxyThreads, agentProxyThreads) }

// maxConn is the sidecars' connection cap.
func (c Chain) maxConn() int { return cmp.Or(c.MaxConn, agentMaxConn) }

// Setup describes how c's sidecars and load generator are configured, and
// how that differs from the agent's profiling datapath.
func (c Chain) Setup() string {
	reuse := c.Proxy.HTTPReuse
	if reuse == "" {
		reuse = "safe (haproxy's default)"
	}
	t := c.Proxy.Timeouts
	timeouts := "the agent's timeouts"
	if t != (datapath.HAProxyTimeouts{}) {
		timeouts = fmt.Sprintf("timeouts connect %v, client %v, server %v", cmp.Or(t.Connect, 5*time.Second), cmp.Or(t.Client, time.Minute), cmp.Or(t.Server, time.Minute))
	}
	return fmt.Sprintf("haproxy sidecars (the stand-in for Envoy): %d worker thread(s), maxconn %d, http-reuse %s, %s; "+
		"load generator: %d keep-alive connections, Poisson arrivals", c.threads(), c.maxConn(), reuse, timeouts, c.Connections)
}

// Graph is c's call graph at rate (Topology.Graph) with every sidecar's
// worker thread count, as a user would write it.
func (c Chain) Graph(rate float64) *callgraph.Graph {
	g := c.Topology.Graph(rate)
	threads := c.threads()
	for i := range g.Workloads {
		g.Workloads[i].ProxyConcurrency = &threads
	}
	return g
}

// predictionNotes say which of c's settings the predictor has no input
// for: it predicts them as prof measured them.
func (c Chain) predictionNotes(prof *profile.Profile) []string {
	var notes []string
	if c.threads() != agentProxyThreads {
		msg := fmt.Sprintf("the sidecars run %d worker threads (proxyConcurrency %d in the graph): the queueing term serves each sidecar with them, "+
			"but CPU and latency per request are the profile's, taken with %d", c.threads(), c.threads(), agentProxyThreads)
		if prof.OperatingPoint == nil {
			msg = fmt.Sprintf("the sidecars run %d worker threads (proxyConcurrency %d in the graph); the profile has no operating point, so there is no queueing term, "+
				"and CPU and latency per request are the profile's, taken with %d", c.threads(), c.threads(), agentProxyThreads)
		}
		notes = append(notes, msg)
	}
	if c.Proxy.HTTPReuse != "" {
		notes = append(notes, fmt.Sprintf("the sidecars reuse server connections with http-reuse %s; the profile was taken with haproxy's default (safe) and the graph has no input for it",
			c.Proxy.HTTPReuse))
	}
	return notes
}
