//go:build linux && privileged

package datapath

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestChainRoutesPerEdge builds a three-pod chain behind a bridge with one
// HTTP mTLS edge and one TCP plaintext edge out of the same sidecar, and
// checks that each edge gets its own protocol and TLS, that the bypass port
// goes around every proxy, and that Close leaves nothing behind.
func TestChainRoutesPerEdge(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	buildMu.RLock()
	c, err := BuildChain(ctx, ChainSpec{
		Prefix: newPrefix(),
		Pods:   []ChainPod{{Name: "a", Sidecar: true}, {Name: "b", Sidecar: true}, {Name: "c", Sidecar: true}},
		Edges: []ChainEdge{
			{From: "a", To: "b", Mode: ModeHTTP, MTLS: true},
			{From: "a", To: "c", Mode: ModeTCP},
		},
		ExcludePorts: []int{bypassPort},
	})
	buildMu.RUnlock()
	if err != nil {
		t.Fatalf("BuildChain: %v", err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = c.Close()
		}
	}()
	if got := len(c.ProxyPIDs()); got != 3 {
		t.Fatalf("%d proxies, want 3", got)
	}
	for pod, mode := range map[string]string{"b": "http", "c": "tcp"} {
		proc, err := c.Start(ctx, pod, helperArgv(mode, strconv.Itoa(meshedPort), strconv.Itoa(bypassPort)), nobody)
		if err != nil {
			t.Fatal(err)
		}
		for _, port := range []int{meshedPort, bypassPort} {
			if err := c.WaitListening(ctx, pod, port); err != nil {
				t.Fatalf("%s app: %v; output: %s", pod, err, proc.Output())
			}
		}
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		return c.Dial(ctx, "a", network, addr)
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dial}}
	get := func(port int) (via []string, body string) {
		t.Helper()
		resp, err := hc.Get("http://" + net.JoinHostPort(c.Addr("b").String(), strconv.Itoa(port)) + "/")
		if err != nil {
			t.Fatalf("GET b:%d: %v", port, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.Header.Values(ViaHeader), string(b)
	}
	// HTTP edge: both proxies in HTTP mode (they add their Via headers), the
	// inbound proxy reaching the app over loopback.
	via, body := get(meshedPort)
	if !slices.Equal(via, []string{"b-inbound", "a-outbound"}) || !strings.HasPrefix(body, "port=8080 peer=127.0.0.1:") {
		t.Errorf("a->b meshed: via %q, body %q; want b-inbound,a-outbound from 127.0.0.1", via, body)
	}
	via, body = get(bypassPort)
	if len(via) != 0 || !strings.HasPrefix(body, "port=9090 peer="+c.Addr("a").String()+":") {
		t.Errorf("a->b bypass: via %q, body %q; want no proxy, peer a", via, body)
	}
	// mTLS: b's inbound listener refuses plaintext. From pod c, which has
	// no edge to b, the connection leaves c's sidecar through its
	// passthrough backend as plain TCP (from a, b's port 15006 would be
	// routed over a's mTLS edge).
	fromC := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return c.Dial(ctx, "c", network, addr)
		},
	}}
	if resp, err := fromC.Get("http://" + net.JoinHostPort(c.Addr("b").String(), strconv.Itoa(InboundPort)) + "/"); err == nil {
		resp.Body.Close()
		t.Errorf("plaintext HTTP to b's inbound port answered %s, want a TLS failure", resp.Status)
	}
	// TCP edge out of the same sidecar: plain TCP, through c's inbound proxy.
	for port, wantPeer := range map[int]string{meshedPort: "peer=127.0.0.1:", bypassPort: "peer=" + c.Addr("a").String() + ":"} {
		conn, err := dial(ctx, "tcp", net.JoinHostPort(c.Addr("c").String(), strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("dial c:%d: %v", port, err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(conn)
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, wantPeer) {
			t.Errorf("c:%d greeted %q (%v), want %s…", port, line, err, wantPeer)
		}
		if _, err := io.WriteString(conn, "ping\n"); err != nil {
			t.Fatal(err)
		}
		if echo, err := br.ReadString('\n'); err != nil || echo != "ping\n" {
			t.Errorf("c:%d echoed %q (%v)", port, echo, err)
		}
		conn.Close()
	}

	pids := c.PIDs()
	prefix := c.Prefix()
	closed = true
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	if strings.Contains(string(out), prefix) {
		t.Errorf("network namespaces left behind:\n%s", out)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("process %d survived Close", pid)
		}
	}
}
