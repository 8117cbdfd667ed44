//go:build linux && privileged

package datapath

import (
	"bufio"
	"context"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func meshSpec(mode Mode) Spec {
	return Spec{
		Sidecars:             SidecarBoth,
		Mode:                 mode,
		ExcludeInboundPorts:  []int{bypassPort},
		ExcludeOutboundPorts: []int{bypassPort},
	}
}

func TestHTTPThroughBothSidecars(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	d := build(t, ctx, meshSpec(ModeHTTP))
	startApp(t, ctx, d, "http", meshedPort, meshedPort2, bypassPort)
	c := httpClient(d)

	for _, port := range []int{meshedPort, meshedPort2} {
		r := get(t, c, d, port)
		if !slices.Equal(r.via, []string{"server-inbound", "client-outbound"}) {
			t.Errorf("port %d: %s = %q, want server-inbound then client-outbound", port, ViaHeader, r.via)
		}
		// The inbound proxy dials the app over loopback, on the port the
		// client originally dialled (SO_ORIGINAL_DST).
		if want := "port=" + strconv.Itoa(port) + " peer=127.0.0.1:"; !strings.HasPrefix(r.body, want) {
			t.Errorf("port %d: app saw %q, want prefix %q", port, r.body, want)
		}
	}
	r := get(t, c, d, bypassPort)
	if len(r.via) != 0 {
		t.Errorf("bypass port: %s = %q, want no proxy", ViaHeader, r.via)
	}
	if want := "port=9090 peer=" + d.Addr(Client).String() + ":"; !strings.HasPrefix(r.body, want) {
		t.Errorf("bypass port: app saw %q, want prefix %q", r.body, want)
	}

	// An app running as an ordinary uid is intercepted too.
	out, err := runGet(t, ctx, d, nobody, "http://"+d.ServerAddr(meshedPort).String()+"/")
	if err != nil || !strings.Contains(out, "via=server-inbound,client-outbound") {
		t.Errorf("GET as nobody: %v: %s", err, out)
	}
	// The proxy uid is not redirected to its own outbound listener, but the
	// server pod still intercepts its connection.
	out, err = runGet(t, ctx, d, ProxyUID, "http://"+d.ServerAddr(meshedPort).String()+"/")
	if err != nil || !strings.Contains(out, "via=server-inbound body=") {
		t.Errorf("GET as uid 1337: %v: %s", err, out)
	}

	pids := d.ProxyPIDs()
	if len(pids) != 2 || pids[Client] <= 0 || pids[Server] <= 0 {
		t.Fatalf("ProxyPIDs = %v", pids)
	}
	for p, pid := range pids {
		if uid := procUID(t, pid); uid != ProxyUID {
			t.Errorf("%s proxy runs as uid %d, want %d", p, uid, ProxyUID)
		}
	}
}

func TestTCPThroughBothSidecars(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	d := build(t, ctx, meshSpec(ModeTCP))
	startApp(t, ctx, d, "tcp", meshedPort, bypassPort)

	out0, in0 := haproxySessions(t, d, Client, "outbound"), haproxySessions(t, d, Server, "inbound")
	if peer := echo(t, ctx, d, meshedPort); !strings.HasPrefix(peer, "peer=127.0.0.1:") {
		t.Errorf("meshed port: app saw %q, want the inbound proxy on 127.0.0.1", peer)
	}
	out1, in1 := haproxySessions(t, d, Client, "outbound"), haproxySessions(t, d, Server, "inbound")
	if out1 != out0+1 || in1 != in0+1 {
		t.Errorf("meshed connection: client outbound sessions %d→%d, server inbound %d→%d; want +1 each", out0, out1, in0, in1)
	}
	if peer := echo(t, ctx, d, bypassPort); !strings.HasPrefix(peer, "peer="+d.Addr(Client).String()+":") {
		t.Errorf("bypass port: app saw %q, want the client pod's address", peer)
	}
	out2, in2 := haproxySessions(t, d, Client, "outbound"), haproxySessions(t, d, Server, "inbound")
	if out2 != out1 || in2 != in1 {
		t.Errorf("bypass connection went through a proxy: outbound %d→%d, inbound %d→%d", out1, out2, in1, in2)
	}

	// A connection made straight to the outbound listener has no other
	// destination than the listener: it must be refused, not looped.
	// (The reset may already arrive during connect.)
	if c, err := d.Dial(ctx, Client, "tcp", "127.0.0.1:15001"); err == nil {
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		n, err := c.Read(make([]byte, 1))
		c.Close()
		if err == nil {
			t.Errorf("direct connection to 15001: read %d bytes, want it closed", n)
		}
	}
	if out3 := haproxySessions(t, d, Client, "outbound"); out3 > out2+1 {
		t.Errorf("direct connection to 15001 looped: outbound sessions %d→%d", out2, out3)
	}
}

func TestOneSidecar(t *testing.T) {
	tests := []struct {
		sidecars Sidecars
		via      []string
		peer     string
	}{
		{SidecarServer, []string{"server-inbound"}, "127.0.0.1:"},
		{SidecarClient, []string{"client-outbound"}, "10.213.0.1:"},
		{SidecarNone, nil, "10.213.0.1:"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{"via"}, tt.via...), "-"), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			spec := meshSpec(ModeHTTP)
			spec.Sidecars = tt.sidecars
			d := build(t, ctx, spec)
			startApp(t, ctx, d, "http", meshedPort)
			r := get(t, httpClient(d), d, meshedPort)
			if !slices.Equal(r.via, tt.via) || !strings.HasPrefix(r.body, "port=8080 peer="+tt.peer) {
				t.Errorf("via %q, body %q; want via %q, peer %s", r.via, r.body, tt.via, tt.peer)
			}
			if got := len(d.ProxyPIDs()); got != len(tt.via) {
				t.Errorf("%d proxies, want %d", got, len(tt.via))
			}
		})
	}
}

// echo connects from the client pod, reads the app's greeting and checks
// that bytes come back.
func echo(t *testing.T, ctx context.Context, d *Datapath, port int) string {
	t.Helper()
	c, err := d.Dial(ctx, Client, "tcp", d.ServerAddr(port).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	greeting, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("port %d: reading greeting: %v", port, err)
	}
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	if back, err := br.ReadString('\n'); err != nil || back != "ping\n" {
		t.Fatalf("port %d: echo %q, %v", port, back, err)
	}
	return strings.TrimSpace(greeting)
}

func TestMTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	spec := meshSpec(ModeHTTP)
	spec.MTLS = true
	d := build(t, ctx, spec)
	startApp(t, ctx, d, "http", meshedPort, bypassPort)
	c := httpClient(d)

	// The app parses plaintext HTTP behind the TLS-terminating inbound proxy.
	r := get(t, c, d, meshedPort)
	if !slices.Equal(r.via, []string{"server-inbound", "client-outbound"}) || !strings.HasPrefix(r.body, "port=8080 peer=127.0.0.1:") {
		t.Errorf("mTLS request: via %q, body %q", r.via, r.body)
	}

	cfg, _ := d.ProxyConfig(Client)
	url := "http://" + d.ServerAddr(meshedPort).String() + "/"
	tlsURL := "https://" + d.ServerAddr(meshedPort).String() + "/"
	// As the proxy uid nothing redirects the connection on the client side,
	// so these reach the server's inbound listener as sent.
	if out, err := runGet(t, ctx, d, ProxyUID, url); err == nil {
		t.Errorf("plaintext to the server's inbound listener succeeded: %s", out)
	}
	if out, err := runGet(t, ctx, d, ProxyUID, tlsURL, cfg.TLS.CA, "-", "-"); err == nil {
		t.Errorf("TLS without a client certificate succeeded: %s", out)
	}
	out, err := runGet(t, ctx, d, ProxyUID, tlsURL, cfg.TLS.CA, cfg.TLS.Cert, cfg.TLS.Key)
	if err != nil || !strings.Contains(out, "status=200 via=server-inbound body=port=8080") {
		t.Errorf("TLS with the mesh client certificate: %v: %s", err, out)
	}
	// The bypass port stays plaintext and direct.
	if r := get(t, c, d, bypassPort); len(r.via) != 0 {
		t.Errorf("bypass port went through %q", r.via)
	}
}

func TestNGINX(t *testing.T) {
	for _, mode := range []Mode{ModeHTTP, ModeTCP} {
		t.Run(string(mode), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			spec := meshSpec(mode)
			spec.Proxy, spec.AppPort = NGINX{}, meshedPort
			spec.MTLS = mode == ModeHTTP
			d := build(t, ctx, spec)
			if mode == ModeTCP {
				startApp(t, ctx, d, "tcp", meshedPort, bypassPort)
				if peer := echo(t, ctx, d, meshedPort); !strings.HasPrefix(peer, "peer=127.0.0.1:") {
					t.Errorf("meshed: app saw %q", peer)
				}
				if peer := echo(t, ctx, d, bypassPort); !strings.HasPrefix(peer, "peer="+d.Addr(Client).String()+":") {
					t.Errorf("bypass: app saw %q", peer)
				}
				return
			}
			startApp(t, ctx, d, "http", meshedPort, bypassPort)
			c := httpClient(d)
			if r := get(t, c, d, meshedPort); !slices.Equal(r.via, []string{"server-inbound", "client-outbound"}) {
				t.Errorf("meshed: via %q, body %q", r.via, r.body)
			}
			if r := get(t, c, d, bypassPort); len(r.via) != 0 {
				t.Errorf("bypass: via %q", r.via)
			}
		})
	}
}

func TestCloseLeavesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	spec := meshSpec(ModeHTTP)
	spec.MTLS = true
	spec.Prefix = newPrefix()
	d, err := testBuild(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	app := startApp(t, ctx, d, "http", meshedPort)
	_ = get(t, httpClient(d), d, meshedPort)
	pids := append(slices.Collect(maps.Values(d.ProxyPIDs())), app.PID())
	dir := d.chain.Dir()
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	assertGone(t, spec.Prefix, dir, pids)
	if _, err := d.Start(ctx, Client, helperArgv("http", "1"), nobody); err == nil {
		t.Error("Start after Close succeeded")
	}
}

func TestFailedBuildLeavesNothing(t *testing.T) {
	tests := map[string]Proxy{
		"missing binary": HAProxy{Binary: "/nonexistent/haproxy"},
		"proxy exits":    exitingProxy{},
	}
	for name, proxy := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			spec := meshSpec(ModeHTTP)
			spec.Proxy, spec.Prefix = proxy, newPrefix()
			d, err := testBuild(ctx, spec)
			if err == nil {
				d.Close()
				t.Fatal("Build succeeded")
			}
			t.Logf("Build: %v", err)
			dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+spec.Prefix+"*"))
			if len(dirs) != 0 {
				t.Errorf("leftover directories %v", dirs)
			}
			assertGone(t, spec.Prefix, "", nil)
		})
	}
}

// exitingProxy is a proxy kind whose process exits at once (a bad config).
type exitingProxy struct{}

func (exitingProxy) Name() string                       { return "exiting" }
func (exitingProxy) Config(ProxyConfig) ([]byte, error) { return []byte("not a config\n"), nil }
func (exitingProxy) Command(configPath string) []string {
	return []string{"haproxy", "-c", "-f", configPath}
}

func TestCleanupAfterKilledRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	spec := meshSpec(ModeTCP)
	spec.Prefix = newPrefix()
	d, err := testBuild(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	app := startApp(t, ctx, d, "tcp", meshedPort)
	pids := append(slices.Collect(maps.Values(d.ProxyPIDs())), app.PID())
	dir := d.chain.Dir()
	// As if the run had been killed: nobody calls Close.
	if err := Cleanup(ctx, spec.Prefix); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	assertGone(t, spec.Prefix, dir, pids)
	if err := d.Close(); err != nil {
		t.Errorf("Close after Cleanup: %v", err)
	}
	if err := Cleanup(ctx, ""); err == nil {
		t.Error("Cleanup with an empty prefix: want an error")
	}
}

// assertGone checks that no netns, veth, process or directory of a datapath
// is left.
func assertGone(t *testing.T, prefix, dir string, pids []int) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	if strings.Contains(string(out), prefix) {
		t.Errorf("network namespaces left: %s", out)
	}
	if out, _ := exec.Command("ip", "-o", "link").CombinedOutput(); strings.Contains(string(out), "veth") || strings.Contains(string(out), prefix) {
		t.Errorf("links left in the host namespace: %s", out)
	}
	if out, err := exec.Command("pgrep", "-af", prefix).CombinedOutput(); err == nil {
		t.Errorf("processes left: %s", out)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("pid %d still exists", pid)
		}
	}
	if dir != "" {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("directory %s left (%v)", dir, err)
		}
	}
}

// TestLatencyMeshedAboveDirect compares, within one run and interleaved
// (TESTBED.md section 5), sequential keep-alive requests through both
// sidecars with requests to the bypass port on the same pods.
func TestLatencyMeshedAboveDirect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	d := build(t, ctx, meshSpec(ModeHTTP))
	startApp(t, ctx, d, "http", meshedPort, bypassPort)
	meshed, direct := httpClient(d), httpClient(d)
	const rounds, n, warmup = 3, 200, 20
	var allMesh, allDirect []time.Duration
	for round := range rounds {
		var mesh, bypass []time.Duration
		for i := range n + warmup {
			for _, x := range []struct {
				c    *http.Client
				port int
				out  *[]time.Duration
			}{{meshed, meshedPort, &mesh}, {direct, bypassPort, &bypass}} {
				start := time.Now()
				_ = get(t, x.c, d, x.port)
				if i >= warmup { // the first requests open connections
					*x.out = append(*x.out, time.Since(start))
				}
			}
		}
		pm, pd := percentile(mesh, 50), percentile(bypass, 50)
		t.Logf("round %d, %d interleaved requests each: p50 both sidecars %v, direct %v, added %v; p99 %v vs %v",
			round+1, n, pm, pd, pm-pd, percentile(mesh, 99), percentile(bypass, 99))
		allMesh, allDirect = append(allMesh, mesh...), append(allDirect, bypass...)
	}
	pm, pd := percentile(allMesh, 50), percentile(allDirect, 50)
	t.Logf("all rounds: p50 both sidecars %v, direct %v, added %v", pm, pd, pm-pd)
	if pm <= pd {
		t.Errorf("median through both proxies %v is not above direct %v", pm, pd)
	}
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

func procUID(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				uid, err := strconv.Atoi(f[0])
				if err != nil {
					t.Fatal(err)
				}
				return uid
			}
		}
	}
	t.Fatalf("no Uid line for pid %d", pid)
	return -1
}

func TestInProcessServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	d := build(t, ctx, meshSpec(ModeHTTP))
	l, err := d.Listen(ctx, Server, "tcp", ":"+strconv.Itoa(meshedPort))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("port=8080 peer=" + r.RemoteAddr))
	})}
	go srv.Serve(l)
	defer srv.Close()
	if err := d.WaitListening(ctx, Server, meshedPort); err != nil {
		t.Fatal(err)
	}
	r := get(t, httpClient(d), d, meshedPort)
	if !slices.Equal(r.via, []string{"server-inbound", "client-outbound"}) || !strings.HasPrefix(r.body, "port=8080 peer=127.0.0.1:") {
		t.Errorf("via %q, body %q", r.via, r.body)
	}
}
