package accuracy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/loadgen"
)

// ErrInvalidConfig is wrapped by every error of Config.Validate.
var ErrInvalidConfig = errors.New("invalid validation config")

// Config is one validation run: one profile, then every chain in turn.
type Config struct {
	// Chains are measured in order, each built, measured, predicted and torn
	// down before the next; empty means every built-in chain (Chains).
	Chains []Chain
	// Rates, if set, are the open-loop request rates at the entry, in req/s,
	// of every chain instead of each chain's own.
	Rates []float64
	// Rounds is the number of interleaved mesh/bypass pairs per rate.
	Rounds int
	// Duration is the length of each load run.
	Duration time.Duration
	// Warmup is the length of the unrecorded mesh and bypass runs before
	// each rate's rounds.
	Warmup time.Duration
	// Connections, if set, is the number of keep-alive connections of the
	// load generator in every chain instead of each chain's own.
	Connections int
	// ProfilePath, if set, is an existing profile to predict with; otherwise
	// the proxy is profiled first (Profile) and the profile written to
	// OutDir.
	ProfilePath string
	// Profile is the local profiling run, when ProfilePath is empty.
	Profile ProfileConfig
	// Helper is the argv prefix of a program implementing the agent's
	// "serve" and "load" helpers and the "relay" helper (RelayArgv);
	// typically the agent's own executable.
	Helper []string
	// Prefix names the network namespaces (the chain's get "c" appended,
	// the profile's datapaths "p" and a digit); empty means "mv-" and four
	// random hex digits. At most 9 characters.
	Prefix string
	// OutDir receives the profile and, in a directory per chain named after
	// it, the call graphs, the predictions and the report. It is created if
	// needed.
	OutDir string
	// Progress receives progress lines; nil discards them.
	Progress io.Writer
}

// ProfileConfig is the profiling part of a validation: the agent's matrix,
// restricted to what the chain needs.
type ProfileConfig struct {
	// Rates are the profiled request rates; they should span the per-proxy
	// rates of the chains (the entry rate up to the busiest proxy's).
	Rates []float64
	// Sizes are the profiled payload sizes; they should span the chains'.
	Sizes []int
	// Duration and Rounds are per cell, as in agent.Config.
	Duration time.Duration
	Rounds   int
	// Connections is the profiling load generator's connection count; zero
	// means the agent's default (agent.DefaultConnections).
	Connections int
}

// Defaults of a validation run; DefaultRates and DefaultConnections are the
// default chain's.
var (
	DefaultRates          = []float64{150, 450}
	DefaultProfileRates   = []float64{150, 450, 1350}
	DefaultProfileSizes   = []int{128, 4096}
	DefaultRounds         = 6
	DefaultDuration       = 3 * time.Second
	DefaultWarmup         = time.Second
	DefaultConnections    = 8
	DefaultProfileRounds  = 3
	DefaultProfileRunTime = time.Second
)

// WithDefaults returns c with every zero field filled in.
func (c Config) WithDefaults() Config {
	if len(c.Chains) == 0 {
		c.Chains = Chains()
	}
	c.Chains = slices.Clone(c.Chains)
	for i := range c.Chains {
		if len(c.Rates) > 0 {
			c.Chains[i].Rates = c.Rates
		}
		if c.Connections > 0 {
			c.Chains[i].Connections = c.Connections
		}
	}
	if c.Rounds == 0 {
		c.Rounds = DefaultRounds
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Warmup == 0 {
		c.Warmup = DefaultWarmup
	}
	if len(c.Profile.Rates) == 0 {
		c.Profile.Rates = DefaultProfileRates
	}
	if len(c.Profile.Sizes) == 0 {
		c.Profile.Sizes = DefaultProfileSizes
	}
	if c.Profile.Duration == 0 {
		c.Profile.Duration = DefaultProfileRunTime
	}
	if c.Profile.Rounds == 0 {
		c.Profile.Rounds = DefaultProfileRounds
	}
	return c
}

// Validate checks a config whose defaults are filled in, without I/O.
func (c Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...)
	}
	if len(c.Chains) == 0 {
		return bad("no chains")
	}
	if c.Connections < 0 {
		return bad("connections %d: want 1 to 256, or 0 for each chain's own", c.Connections)
	}
	for i, ch := range c.Chains {
		if err := ch.validate(); err != nil {
			return bad("%w", err)
		}
		if slices.ContainsFunc(c.Chains[:i], func(o Chain) bool { return o.Name == ch.Name }) {
			return bad("chain %s listed twice", ch.Name)
		}
	}
	if c.Rounds < 2 || c.Rounds > 50 {
		return bad("rounds %d: want 2 to 50 (a spread needs at least two)", c.Rounds)
	}
	if c.Duration < 200*time.Millisecond || c.Duration > 2*time.Minute {
		return bad("duration %v: want 200ms to 2m", c.Duration)
	}
	if c.Warmup < 0 || c.Warmup > time.Minute {
		return bad("warmup %v: want 0 to 1m", c.Warmup)
	}
	if len(c.Helper) == 0 {
		return bad("no helper program")
	}
	if len(c.Prefix) > 9 {
		return bad("prefix %q: at most 9 characters", c.Prefix)
	}
	if c.OutDir == "" {
		return bad("no output directory")
	}
	if c.ProfilePath == "" {
		for _, r := range c.Profile.Rates {
			if !(r > 0) || r > 100_000 {
				return bad("profile rate %g: want above 0 and at most 100000 req/s", r)
			}
		}
		for _, s := range c.Profile.Sizes {
			if s < 0 || s > 16<<20 {
				return bad("profile size %d: want 0 to 16 MiB", s)
			}
		}
		if c.Profile.Rounds < 1 {
			return bad("profile rounds %d: want at least 1", c.Profile.Rounds)
		}
	}
	return nil
}

// The relay helper subcommand and its flag.
const (
	RelayCommand = "relay"
	FlagConfig   = "config"
)

// RelayArgv is the argv of the relay helper serving the RelayConfig (JSON)
// at configPath.
func RelayArgv(helper []string, configPath string) []string {
	argv := append([]string(nil), helper...)
	return append(argv, RelayCommand, "--"+FlagConfig, configPath)
}

// ServeRelayFile is the relay helper: it reads a loadgen.RelayConfig from
// path and serves it until ctx is done (the helper's signal context: the
// datapath stops its processes with SIGTERM).
func ServeRelayFile(ctx context.Context, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading relay config: %w", err)
	}
	var cfg loadgen.RelayConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("decoding relay config %q: %w", path, err)
	}
	r, err := loadgen.ServeRelay(ctx, cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return r.Close()
}
