package loadgen

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"
)

func startRelay(t *testing.T, ctx context.Context, cfg RelayConfig) *Relay {
	t.Helper()
	r, err := ServeRelay(ctx, cfg)
	if err != nil {
		t.Fatalf("ServeRelay %s: %v", cfg.Name, err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("closing relay %s: %v", cfg.Name, err)
		}
	})
	return r
}

func leaf(name string, p Protocol) RelayConfig {
	return RelayConfig{Name: name, Protocol: p, Listeners: []RelayListener{{Name: "mesh", Address: "127.0.0.1:0"}}}
}

// TestRelayFanOut runs a small tree on loopback: an entry relay of each
// protocol fanning out to a tcp relay leaf, an http relay leaf and a plain
// echo server, driven by the load generator.
func TestRelayFanOut(t *testing.T) {
	for _, entryProto := range []Protocol{HTTP, TCP} {
		t.Run(string(entryProto), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			db := startRelay(t, ctx, leaf("db", TCP))
			cache := startRelay(t, ctx, leaf("cache", HTTP))
			echo, err := Serve(ctx, ServerConfig{Protocol: TCP, Listen: "127.0.0.1:0"})
			if err != nil {
				t.Fatal(err)
			}
			defer echo.Close()
			sock := filepath.Join(t.TempDir(), "front.sock")
			front := startRelay(t, ctx, RelayConfig{
				Name: "front", Protocol: entryProto, AdminSocket: sock,
				Listeners: []RelayListener{{Name: "mesh", Address: "127.0.0.1:0", Calls: []RelayCall{
					{To: "db", Protocol: TCP, Target: db.Addrs()[0], RequestBytes: 256, ResponseBytes: 4096},
					{To: "cache", Protocol: HTTP, Target: cache.Addrs()[0], RequestBytes: 128, ResponseBytes: 512},
					{To: "echo", Protocol: TCP, Target: echo.Addr(), RequestBytes: 10, ResponseBytes: 20},
				}}},
			})
			res, err := Run(ctx, LoadConfig{
				Protocol: entryProto, Target: front.Addrs()[0], RequestBytes: 100, ResponseBytes: 1000,
				Duration: 10 * time.Second, Requests: 50, Connections: 2,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Completed != 50 || res.Errors != 0 {
				t.Fatalf("completed %d, errors %d (%s), want 50 and 0", res.Completed, res.Errors, res.FirstError)
			}
			st, err := FetchRelayStats(ctx, sock, true)
			if err != nil {
				t.Fatal(err)
			}
			ls, ok := st.Listener("mesh")
			if !ok {
				t.Fatalf("no mesh listener in %+v", st)
			}
			// 50 measured requests plus one readiness request per connection.
			if ls.Requests != 52 || ls.Errors != 0 || ls.Handler.Count != 52 {
				t.Errorf("front: %d requests, %d errors, %d handler times; want 52, 0, 52", ls.Requests, ls.Errors, ls.Handler.Count)
			}
			for _, to := range []string{"db", "cache"} {
				c, ok := ls.Call(to)
				if !ok || c.Calls != 52 || c.Errors != 0 || c.Edge.Count != 52 {
					t.Errorf("call to %s: %+v, want 52 calls with handler times", to, c)
				}
				if c.Edge.P50Micros > c.Latency.P50Micros {
					t.Errorf("call to %s: edge p50 %.0f µs above the round trip's %.0f µs", to, c.Edge.P50Micros, c.Latency.P50Micros)
				}
			}
			// A plain echo server reports no handler time.
			if c, _ := ls.Call("echo"); c.Calls != 52 || c.Edge.Count != 0 {
				t.Errorf("call to echo: %+v, want 52 calls without handler times", c)
			}
			// The window was reset.
			st, err = FetchRelayStats(ctx, sock, false)
			if err != nil {
				t.Fatal(err)
			}
			if ls, _ := st.Listener("mesh"); ls.Requests != 0 || ls.Calls[0].Calls != 0 || ls.Handler.Count != 0 {
				t.Errorf("after reset: %+v", ls)
			}
		})
	}
}

func TestRelayDownstreamFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	r := startRelay(t, ctx, RelayConfig{
		Name: "front", Protocol: HTTP, Timeout: time.Second,
		Listeners: []RelayListener{{Name: "mesh", Address: "127.0.0.1:0", Calls: []RelayCall{{To: "gone", Protocol: TCP, Target: dead}}}},
	})
	_, err = Run(ctx, LoadConfig{Protocol: HTTP, Target: r.Addrs()[0], Duration: time.Second, Requests: 1})
	if err == nil {
		t.Fatal("load against a relay whose callee is down succeeded")
	}
	ls, _ := r.Stats(false).Listener("mesh")
	if ls.Errors == 0 || ls.Calls[0].Errors == 0 {
		t.Errorf("stats %+v: want the failed request and call counted", ls)
	}
}

func TestRelayConfigValidate(t *testing.T) {
	good := RelayConfig{Name: "a", Protocol: HTTP, Listeners: []RelayListener{{Name: "mesh", Address: ":8080",
		Calls: []RelayCall{{To: "b", Protocol: TCP, Target: "10.0.0.2:8080"}}}}}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, modify := range map[string]func(*RelayConfig){
		"grpc":           func(c *RelayConfig) { c.Protocol = GRPC },
		"no listeners":   func(c *RelayConfig) { c.Listeners = nil },
		"bad address":    func(c *RelayConfig) { c.Listeners[0].Address = "8080" },
		"unnamed":        func(c *RelayConfig) { c.Listeners[0].Name = "" },
		"bad target":     func(c *RelayConfig) { c.Listeners[0].Calls[0].Target = "b" },
		"h2c call":       func(c *RelayConfig) { c.Listeners[0].Calls[0].Protocol = H2C },
		"negative size":  func(c *RelayConfig) { c.Listeners[0].Calls[0].RequestBytes = -1 },
		"negative limit": func(c *RelayConfig) { c.Timeout = -time.Second },
	} {
		c := good
		c.Listeners = []RelayListener{good.Listeners[0]}
		c.Listeners[0].Calls = append([]RelayCall(nil), good.Listeners[0].Calls...)
		modify(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestHandlerTimeRoundTrip(t *testing.T) {
	buf := answer(nil, 4, 16, time.Now().Add(-3*time.Millisecond))
	if got := readHandlerTime(buf[4:]); got < 3*time.Millisecond || got > time.Second {
		t.Errorf("handler time %v, want about 3ms", got)
	}
	if got := readHandlerTime(answer(nil, 0, 4, time.Now())); got != 0 {
		t.Errorf("a 4-byte payload carried handler time %v", got)
	}
}
