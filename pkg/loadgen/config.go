package loadgen

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"time"
)

// Protocol is the application protocol spoken between the load generator and the
// echo server.
//
// Framing added on top of the payload sizes of a [LoadConfig]:
//   - tcp: the request starts with an 8-byte header (request and response payload
//     lengths, big-endian uint32), the response with a 4-byte header (its payload
//     length).
//   - http and h2c: POST /echo?resp=N with the request payload as the body; the
//     response body is N bytes. Headers are not counted.
//   - grpc: unary call /meshinsight.workload.Echo/Echo; the request message is a
//     4-byte response length followed by the payload, the response message is the
//     payload; gRPC adds its 5-byte message prefix and headers.
type Protocol string

// The protocols of the echo server and the load generator.
const (
	// TCP is a length-prefixed request/response protocol on a raw TCP connection.
	TCP Protocol = "tcp"
	// HTTP is HTTP/1.1 with keep-alive connections.
	HTTP Protocol = "http"
	// H2C is HTTP/2 over cleartext with prior knowledge (no upgrade).
	H2C Protocol = "h2c"
	// GRPC is unary gRPC over h2c with a raw-bytes codec (no generated code).
	GRPC Protocol = "grpc"
)

// Protocols lists the supported protocols in a stable order.
func Protocols() []Protocol { return []Protocol{TCP, HTTP, H2C, GRPC} }

// ErrUnknownProtocol is returned (wrapped) for a protocol that is not one of
// [Protocols].
var ErrUnknownProtocol = errors.New("unknown protocol")

// ErrInvalidConfig is wrapped by every error returned from a Validate method.
var ErrInvalidConfig = errors.New("invalid workload config")

// MaxMessageBytes bounds request and response payloads (64 MiB), so a bad request
// cannot make the server allocate or send without limit.
const MaxMessageBytes = 64 << 20

// MaxRatePerSecond bounds [LoadConfig.RatePerSecond]; one generator on one machine
// cannot schedule faster than this anyway.
const MaxRatePerSecond = 1e6

// ParseProtocol turns a user-supplied name (case-insensitive) into a Protocol.
func ParseProtocol(s string) (Protocol, error) {
	p := Protocol(strings.ToLower(strings.TrimSpace(s)))
	if err := p.Validate(); err != nil {
		return "", err
	}
	return p, nil
}

// Validate reports whether p is one of [Protocols].
func (p Protocol) Validate() error {
	for _, q := range Protocols() {
		if p == q {
			return nil
		}
	}
	return fmt.Errorf("%w %q: use one of %s", ErrUnknownProtocol, string(p), protocolList())
}

// multiplexed reports whether one connection carries many requests at once.
func (p Protocol) multiplexed() bool { return p == H2C || p == GRPC }

func protocolList() string {
	names := make([]string, 0, 4)
	for _, p := range Protocols() {
		names = append(names, string(p))
	}
	return strings.Join(names, ", ")
}

// ServerConfig configures the echo server.
type ServerConfig struct {
	// Protocol is the protocol served on every listen address.
	Protocol Protocol `json:"protocol"`
	// Listen is one address or a comma-separated list ("127.0.0.1:0", ":8080,:8081").
	// One server on several ports lets the profiler compare a port the mesh
	// intercepts with one it bypasses on the same process.
	Listen string `json:"listen"`

	// beforeReply, if set, runs after a request is read and before its response is
	// written; tests use it to stall the server.
	beforeReply func()
}

// Addresses returns the listen addresses of c.Listen, trimmed.
func (c ServerConfig) Addresses() []string {
	var out []string
	for _, a := range strings.Split(c.Listen, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Validate checks c without doing any I/O.
func (c ServerConfig) Validate() error {
	if err := c.Protocol.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	addrs := c.Addresses()
	if len(addrs) == 0 {
		return fmt.Errorf("%w: no listen address: set e.g. \":8080\" or \":8080,:8081\"", ErrInvalidConfig)
	}
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("%w: listen address %q: %w", ErrInvalidConfig, a, err)
		}
	}
	return nil
}

// LoadConfig configures one load-generator run.
type LoadConfig struct {
	// Protocol must match the server's protocol.
	Protocol Protocol `json:"protocol"`
	// Target is host:port of the echo server (through the mesh or not).
	Target string `json:"target"`
	// RatePerSecond is the constant request rate of the open loop. Zero runs closed
	// loop: every in-flight slot sends its next request as soon as the previous one
	// completes, for throughput measurements.
	RatePerSecond float64 `json:"ratePerSecond"`
	// RequestBytes and ResponseBytes are the payload sizes of every request.
	RequestBytes  int `json:"requestBytes"`
	ResponseBytes int `json:"responseBytes"`
	// Duration is the measured window. Requests scheduled in it are recorded.
	Duration time.Duration `json:"durationNanos"`
	// Warmup runs the same load before the measured window without recording it.
	Warmup time.Duration `json:"warmupNanos"`
	// Connections is the number of keep-alive connections (default 1). On tcp and
	// http, where a connection carries one request at a time, open-loop runs need
	// Connections well above rate × latency, or requests wait for a free
	// connection and are counted as Late.
	Connections int `json:"connections"`
	// MaxInFlight bounds outstanding requests on multiplexed protocols (h2c, grpc;
	// default 64 per connection open loop, 1 per connection closed loop, like
	// wrk -c). On tcp and http a connection carries one request at a time, so at
	// most Connections requests are outstanding and this is ignored.
	// When every slot is busy the schedule is not stretched: requests are sent late
	// and their latency still counts from the intended send time.
	MaxInFlight int `json:"maxInFlight,omitempty"`
	// Timeout bounds each request (default 5s); a request that times out is an
	// error. After the window, late requests are still sent for up to Timeout; the
	// rest are counted as Dropped.
	Timeout time.Duration `json:"timeoutNanos,omitempty"`
	// Requests, if positive, stops the run after this many requests were sent in the
	// measured window (closed-loop benchmarks).
	Requests int `json:"requests,omitempty"`
	// Arrivals is how open-loop requests are spaced: Uniform (every 1/rate, the
	// default) or Poisson (exponential gaps of mean 1/rate, as many independent
	// clients produce). A proxy spends less CPU per request when requests
	// arrive close together (one wake-up serves several), so the arrival
	// process is part of what a measurement measured.
	Arrivals Arrivals `json:"arrivals,omitempty"`
	// Seed seeds the Poisson schedule; zero picks a random seed.
	Seed uint64 `json:"seed,omitempty"`
}

// Arrivals is an open-loop arrival process.
type Arrivals string

// Arrival processes.
const (
	Uniform Arrivals = "uniform"
	Poisson Arrivals = "poisson"
)

const (
	defaultTimeout            = 5 * time.Second
	defaultInFlightPerConnMux = 64
	// lateThreshold is how far behind its intended send time a request must be
	// sent to count as Late.
	lateThreshold = time.Millisecond
)

// Validate checks c without doing any I/O. Zero values that have defaults
// (Connections, MaxInFlight, Timeout) are accepted.
func (c LoadConfig) Validate() error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

func (c LoadConfig) validate() error {
	if err := c.Protocol.Validate(); err != nil {
		return err
	}
	if c.Target == "" {
		return errors.New("no target: set host:port of the echo server")
	}
	if _, _, err := net.SplitHostPort(c.Target); err != nil {
		return fmt.Errorf("target %q is not host:port: %w", c.Target, err)
	}
	switch {
	case math.IsNaN(c.RatePerSecond) || math.IsInf(c.RatePerSecond, 0):
		return fmt.Errorf("rate %v req/s is not a number", c.RatePerSecond)
	case c.RatePerSecond < 0:
		return fmt.Errorf("rate %g req/s is negative: use a positive rate, or 0 for closed loop", c.RatePerSecond)
	case c.Arrivals != "" && c.Arrivals != Uniform && c.Arrivals != Poisson:
		return fmt.Errorf("arrivals %q: want %q or %q", c.Arrivals, Uniform, Poisson)
	case c.RatePerSecond > MaxRatePerSecond:
		return fmt.Errorf("rate %g req/s exceeds %g", c.RatePerSecond, float64(MaxRatePerSecond))
	}
	if c.RequestBytes < 0 || c.RequestBytes > MaxMessageBytes {
		return fmt.Errorf("request size %d bytes is outside 0..%d", c.RequestBytes, MaxMessageBytes)
	}
	if c.ResponseBytes < 0 || c.ResponseBytes > MaxMessageBytes {
		return fmt.Errorf("response size %d bytes is outside 0..%d", c.ResponseBytes, MaxMessageBytes)
	}
	if c.Duration <= 0 {
		return fmt.Errorf("duration %v must be positive", c.Duration)
	}
	if c.Warmup < 0 {
		return fmt.Errorf("warmup %v is negative", c.Warmup)
	}
	if c.Connections < 0 {
		return fmt.Errorf("connections %d is negative", c.Connections)
	}
	if c.MaxInFlight < 0 {
		return fmt.Errorf("max in-flight %d is negative", c.MaxInFlight)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("timeout %v is negative", c.Timeout)
	}
	if c.Requests < 0 {
		return fmt.Errorf("request limit %d is negative", c.Requests)
	}
	return nil
}

// withDefaults returns c with zero-valued optional fields filled in.
func (c LoadConfig) withDefaults() LoadConfig {
	if c.Connections == 0 {
		c.Connections = 1
	}
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	if c.Protocol.multiplexed() {
		if c.MaxInFlight == 0 {
			c.MaxInFlight = c.Connections
			if c.RatePerSecond > 0 {
				c.MaxInFlight = defaultInFlightPerConnMux * c.Connections
			}
		}
		if c.MaxInFlight < c.Connections {
			c.MaxInFlight = c.Connections
		}
	} else {
		c.MaxInFlight = c.Connections
	}
	return c
}
