package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// startServer serves p on a free loopback port for the duration of the test.
func startServer(t testing.TB, p Protocol, beforeReply func()) *Server {
	t.Helper()
	s, err := Serve(context.Background(), ServerConfig{Protocol: p, Listen: "127.0.0.1:0", beforeReply: beforeReply})
	if err != nil {
		t.Fatalf("Serve(%s): %v", p, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestRoundTripExactSizes(t *testing.T) {
	sizes := []struct{ req, resp int }{{0, 0}, {1, 7}, {1000, 100_000}, {70_000, 1 << 20}}
	for _, p := range Protocols() {
		t.Run(string(p), func(t *testing.T) {
			s := startServer(t, p, nil)
			for _, sz := range sizes {
				before := s.Stats()
				res, err := Run(t.Context(), LoadConfig{
					Protocol: p, Target: s.Addr(), RequestBytes: sz.req, ResponseBytes: sz.resp,
					Duration: 5 * time.Second, Requests: 5,
				})
				if err != nil {
					t.Fatalf("req=%d resp=%d: Run: %v", sz.req, sz.resp, err)
				}
				// The client fails a request whose response size differs, so no errors
				// means every response had exactly resp bytes.
				if res.Completed != 5 || res.Errors != 0 {
					t.Fatalf("req=%d resp=%d: completed %d, errors %d (%s), want 5, 0", sz.req, sz.resp, res.Completed, res.Errors, res.FirstError)
				}
				after := s.Stats()
				n := after.Requests - before.Requests // 5 plus the probe
				if n != 6 {
					t.Errorf("req=%d resp=%d: server answered %d requests, want 6 (5 + probe)", sz.req, sz.resp, n)
				}
				if got, want := after.BytesReceived-before.BytesReceived, n*int64(sz.req); got != want {
					t.Errorf("req=%d resp=%d: server received %d payload bytes, want %d", sz.req, sz.resp, got, want)
				}
				if got, want := after.BytesSent-before.BytesSent, n*int64(sz.resp); got != want {
					t.Errorf("req=%d resp=%d: server sent %d payload bytes, want %d", sz.req, sz.resp, got, want)
				}
			}
		})
	}
}

func TestOpenLoopAchievesRate(t *testing.T) {
	for _, tc := range []struct {
		p        Protocol
		duration time.Duration
	}{{HTTP, time.Second}, {TCP, 400 * time.Millisecond}, {H2C, 400 * time.Millisecond}, {GRPC, 400 * time.Millisecond}} {
		t.Run(string(tc.p), func(t *testing.T) {
			s := startServer(t, tc.p, nil)
			const rate = 500
			// Two cores shared with builds can starve the generator for 100 ms+
			// (TESTBED.md §5), which really lowers the achieved rate; a second
			// attempt tells that apart from a scheduling bug.
			var problems []string
			for attempt := 1; attempt <= 3; attempt++ {
				res, err := Run(t.Context(), LoadConfig{
					Protocol: tc.p, Target: s.Addr(), RatePerSecond: rate, RequestBytes: 100, ResponseBytes: 1000,
					Duration: tc.duration, Warmup: 100 * time.Millisecond, Connections: 2,
				})
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				t.Logf("attempt %d: sent %d completed %d late %d dropped %d rate %.1f p50 %v p99 %v service p99 %v send lag p99 %v max %v",
					attempt, res.Sent, res.Completed, res.Late, res.Dropped, res.AchievedRate, res.P50, res.P99, res.ServiceP99, res.SendLagP99, res.SendLagMax)
				if res.Errors != 0 || res.Dropped != 0 {
					t.Fatalf("errors %d (%s), dropped %d, want none", res.Errors, res.FirstError, res.Dropped)
				}
				h, err := res.LatencyHistogram()
				if err != nil {
					t.Fatal(err)
				}
				if h.TotalCount() != int64(res.Completed) {
					t.Fatalf("histogram holds %d values, want %d", h.TotalCount(), res.Completed)
				}
				// The schedule itself is exact: every slot of the window is sent.
				if want := int(rate * tc.duration.Seconds()); res.Sent != want {
					t.Fatalf("sent %d requests in the window, want %d", res.Sent, want)
				}
				problems = problems[:0]
				if math.Abs(res.AchievedRate-rate) > 0.05*rate {
					problems = append(problems, fmt.Sprintf("achieved %.1f req/s, want %d ± 5%%", res.AchievedRate, rate))
				}
				if len(problems) == 0 {
					return
				}
			}
			t.Error(strings.Join(problems, "; "))
		})
	}
}

// stallOnce returns a server hook that, at the n-th request, holds every request
// (on every connection) until d has passed.
func stallOnce(n int64, d time.Duration) func() {
	var count atomic.Int64
	var mu sync.Mutex
	var until time.Time
	return func() {
		if count.Add(1) == n {
			mu.Lock()
			until = time.Now().Add(d)
			mu.Unlock()
		}
		mu.Lock()
		u := until
		mu.Unlock()
		if wait := time.Until(u); wait > 0 {
			time.Sleep(wait)
		}
	}
}

func TestCoordinatedOmissionCorrected(t *testing.T) {
	for _, p := range []Protocol{TCP, HTTP} {
		t.Run(string(p), func(t *testing.T) {
			// 500 req/s for 1 s; the server freezes for 200 ms around request 200. About
			// 100 requests fall due during the freeze: 20% of the run waits up to 200 ms.
			// A generator timing from the actual send sees only the 2 requests in flight
			// when the freeze began.
			s := startServer(t, p, stallOnce(200, 200*time.Millisecond))
			res, err := Run(t.Context(), LoadConfig{
				Protocol: p, Target: s.Addr(), RatePerSecond: 500, Duration: time.Second, Connections: 2,
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			t.Logf("p50 %v p90 %v p99 %v max %v; from send: p50 %v p99 %v max %v; late %d",
				res.P50, res.P90, res.P99, res.Max, res.ServiceP50, res.ServiceP99, res.ServiceMax, res.Late)
			corrected, err := res.LatencyHistogram()
			if err != nil {
				t.Fatal(err)
			}
			if p99 := micros(corrected.ValueAtQuantile(99)); p99 < 150*time.Millisecond {
				t.Errorf("p99 from intended send time = %v, want >= 150ms", p99)
			}
			naive, err := DecodeHistogram(res.ServiceHistogram)
			if err != nil {
				t.Fatal(err)
			}
			if p99 := micros(naive.ValueAtQuantile(99)); p99 >= 150*time.Millisecond {
				t.Errorf("p99 from actual send time = %v, want well below the stall", p99)
			}
			if naive.Max() < 150_000 {
				t.Errorf("max from send time = %dµs, want the stall to be visible there", naive.Max())
			}
			if res.Late < 50 {
				t.Errorf("late = %d, want the ~100 requests due during the stall", res.Late)
			}
			if res.Dropped != 0 || res.Errors != 0 {
				t.Errorf("dropped %d errors %d, want 0", res.Dropped, res.Errors)
			}
		})
	}
}

func TestClosedLoop(t *testing.T) {
	for _, p := range Protocols() {
		t.Run(string(p), func(t *testing.T) {
			s := startServer(t, p, nil)
			res, err := Run(t.Context(), LoadConfig{
				Protocol: p, Target: s.Addr(), RequestBytes: 64, ResponseBytes: 64,
				Duration: 150 * time.Millisecond, Connections: 2,
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Completed == 0 || res.Errors != 0 || res.AchievedRate <= 0 {
				t.Fatalf("completed %d errors %d (%s) rate %.0f, want > 0, 0, > 0", res.Completed, res.Errors, res.FirstError, res.AchievedRate)
			}
			if res.Dropped != 0 || res.SendLagMax != 0 {
				t.Errorf("closed loop reported dropped %d, send lag %v", res.Dropped, res.SendLagMax)
			}
			t.Logf("%.0f req/s, p50 %v p99 %v", res.AchievedRate, res.P50, res.P99)
		})
	}
}

func TestCancelStopsPromptly(t *testing.T) {
	for _, p := range Protocols() {
		t.Run(string(p), func(t *testing.T) {
			// After the probe the server hangs every request until the test ends, so
			// Run can only return by abandoning in-flight requests.
			release := make(chan struct{})
			var n atomic.Int64
			s := startServer(t, p, func() {
				if n.Add(1) > 2 { // past the probes of the 2 connections
					<-release
				}
			})
			t.Cleanup(func() { close(release) }) // runs before the server's Close
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(200*time.Millisecond, cancel)
			start := time.Now()
			res, err := Run(ctx, LoadConfig{
				Protocol: p, Target: s.Addr(), RatePerSecond: 200, Duration: 10 * time.Second, Connections: 2,
			})
			elapsed := time.Since(start)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Run error = %v, want context.Canceled", err)
			}
			if res == nil {
				t.Fatal("no partial result on cancel")
			}
			if elapsed > time.Second {
				t.Errorf("Run returned %v after start (cancel at 200ms), want promptly", elapsed)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := LoadConfig{Protocol: HTTP, Target: "127.0.0.1:8080", RatePerSecond: 100, Duration: time.Second}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		name   string
		modify func(*LoadConfig)
		want   string
	}{
		{"negative rate", func(c *LoadConfig) { c.RatePerSecond = -1 }, "rate -1 req/s is negative"},
		{"NaN rate", func(c *LoadConfig) { c.RatePerSecond = math.NaN() }, "not a number"},
		{"huge rate", func(c *LoadConfig) { c.RatePerSecond = 2e6 }, "exceeds"},
		{"unknown protocol", func(c *LoadConfig) { c.Protocol = "quic" }, `unknown protocol "quic": use one of tcp, http, h2c, grpc`},
		{"no target", func(c *LoadConfig) { c.Target = "" }, "no target"},
		{"target without port", func(c *LoadConfig) { c.Target = "echo" }, `target "echo" is not host:port`},
		{"negative request size", func(c *LoadConfig) { c.RequestBytes = -1 }, "request size -1"},
		{"huge response", func(c *LoadConfig) { c.ResponseBytes = MaxMessageBytes + 1 }, "response size"},
		{"zero duration", func(c *LoadConfig) { c.Duration = 0 }, "duration 0s must be positive"},
		{"negative warmup", func(c *LoadConfig) { c.Warmup = -time.Second }, "warmup"},
		{"negative connections", func(c *LoadConfig) { c.Connections = -2 }, "connections -2"},
		{"negative timeout", func(c *LoadConfig) { c.Timeout = -1 }, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.modify(&c)
			err := c.Validate()
			if err == nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig containing %q", err, tc.want)
			}
			if _, runErr := Run(t.Context(), c); runErr == nil || !errors.Is(runErr, ErrInvalidConfig) {
				t.Errorf("Run accepted the config: %v", runErr)
			}
		})
	}
	if err := (LoadConfig{Protocol: "quic", Target: "a:1", Duration: 1}).Validate(); !errors.Is(err, ErrUnknownProtocol) {
		t.Errorf("unknown protocol error %v does not wrap ErrUnknownProtocol", err)
	}
	if p, err := ParseProtocol(" gRPC "); err != nil || p != GRPC {
		t.Errorf("ParseProtocol(gRPC) = %q, %v", p, err)
	}
	for _, sc := range []ServerConfig{{Protocol: HTTP}, {Protocol: "udp", Listen: ":0"}, {Protocol: TCP, Listen: "8080"}} {
		if err := sc.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("ServerConfig%+v.Validate() = %v, want ErrInvalidConfig", sc, err)
		}
		if _, err := Serve(t.Context(), sc); err == nil {
			t.Errorf("Serve accepted %+v", sc)
		}
	}
}

func TestRunWrongTarget(t *testing.T) {
	// A closed port: nothing listens once the server is closed.
	s, err := Serve(t.Context(), ServerConfig{Protocol: TCP, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	closed := s.Addr()
	_ = s.Close()
	httpOnly := startServer(t, HTTP, nil)
	for _, tc := range []struct {
		name   string
		p      Protocol
		target string
		want   string
	}{
		{"tcp refused", TCP, closed, "connecting to tcp echo server"},
		{"http refused", HTTP, closed, "probing http echo server"},
		{"h2c against http/1.1 server", H2C, httpOnly.Addr(), "probing h2c echo server"},
		{"grpc against http/1.1 server", GRPC, httpOnly.Addr(), "probing grpc echo server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			_, err := Run(ctx, LoadConfig{Protocol: tc.p, Target: tc.target, RatePerSecond: 10, Duration: time.Second, Timeout: time.Second})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestServerSeveralListeners(t *testing.T) {
	s, err := Serve(t.Context(), ServerConfig{Protocol: H2C, Listen: "127.0.0.1:0, 127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	addrs := s.Addrs()
	if len(addrs) != 2 || addrs[0] == addrs[1] || s.Addr() != addrs[0] {
		t.Fatalf("Addrs() = %v, want two distinct ports", addrs)
	}
	a := LoadConfig{Protocol: H2C, Target: addrs[0], RequestBytes: 10, ResponseBytes: 20, Duration: time.Second, Requests: 3}
	b := a
	b.Target = addrs[1]
	as, bs, err := Interleave(t.Context(), a, b, 2)
	if err != nil {
		t.Fatalf("Interleave: %v", err)
	}
	if len(as) != 2 || len(bs) != 2 {
		t.Fatalf("got %d and %d results, want 2 and 2", len(as), len(bs))
	}
	// Each side's connection is opened (and probed) once and kept for both
	// of its rounds: 4 runs of 3 requests and 2 probes.
	if st := s.Stats(); st.Requests != 4*3+2 || st.BytesReceived != 14*10 || st.BytesSent != 14*20 {
		t.Errorf("stats %+v, want 14 requests over both ports", st)
	}
	if as[0].Probes != 1 || as[1].Probes != 0 || bs[0].Probes != 1 {
		t.Errorf("probes %d, %d, %d: want the first run of each side to count its connection's probe", as[0].Probes, as[1].Probes, bs[0].Probes)
	}
	m, err := Merge(as...)
	if err != nil {
		t.Fatal(err)
	}
	if m.Completed != 6 {
		t.Errorf("merged completed %d, want 6", m.Completed)
	}
	if h, err := m.LatencyHistogram(); err != nil || h.TotalCount() != 6 {
		t.Errorf("merged histogram: %v, %v", h, err)
	}

	// Binding a port in use fails before serving anything.
	if _, err := Serve(t.Context(), ServerConfig{Protocol: TCP, Listen: "127.0.0.1:0," + addrs[0]}); err == nil ||
		!strings.Contains(err.Error(), "listening on "+addrs[0]) {
		t.Errorf("Serve on a used port: %v", err)
	}
	if _, _, err := Interleave(t.Context(), a, LoadConfig{}, 1); err == nil || !strings.Contains(err.Error(), "config b") {
		t.Errorf("Interleave with bad b: %v", err)
	}
}

func TestServeStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s, err := Serve(ctx, ServerConfig{Protocol: GRPC, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := Run(t.Context(), LoadConfig{Protocol: GRPC, Target: s.Addr(), Duration: time.Second, Requests: 1, Timeout: 200 * time.Millisecond}); err != nil {
			return // stopped
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("server still answers after its context was cancelled")
}

func TestLoadConfigJSONRoundTrip(t *testing.T) {
	in := LoadConfig{Protocol: GRPC, Target: "echo:8080", RatePerSecond: 250.5, RequestBytes: 10, ResponseBytes: 20,
		Duration: 3 * time.Second, Warmup: time.Second, Connections: 4, MaxInFlight: 32, Timeout: 2 * time.Second, Requests: 7}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"durationNanos":3000000000`) {
		t.Errorf("JSON %s lacks durationNanos", b)
	}
	var out LoadConfig
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("round trip: %+v, %v; want %+v", out, err, in)
	}
}
