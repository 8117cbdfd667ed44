package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/loadgen"
)

// TestLoadServer runs a real load job through a load server against a
// loopback echo server, and checks the server refuses what it must.
func TestLoadServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	echo, err := loadgen.Serve(ctx, loadgen.ServerConfig{Protocol: loadgen.HTTP, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	ls := &LoadServer{Token: "s3cret"}
	srv := httptest.NewServer(ls)
	defer srv.Close()
	defer ls.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	job := LoadJob{Rounds: 1, Mesh: loadgen.LoadConfig{Protocol: loadgen.HTTP, Target: echo.Addrs()[0], RatePerSecond: 200,
		RequestBytes: 100, ResponseBytes: 100, Duration: 200 * time.Millisecond, Connections: 1}}

	out, err := RemoteLoad(addr, "s3cret")(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Mesh) != 1 || out.Mesh[0].Completed == 0 || out.Mesh[0].Probes != 1 {
		t.Fatalf("outcome %+v: want one round with completed requests and the connection's probe", out)
	}
	// The next job runs on the same connection: no new probe, and the echo
	// server saw one.
	again, err := RemoteLoad(addr, "s3cret")(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if again.Mesh[0].Probes != 0 {
		t.Errorf("second job probed %d connections, want 0 (kept open)", again.Mesh[0].Probes)
	}
	if got, want := echo.Stats().Requests, int64(out.Mesh[0].Completed+again.Mesh[0].Completed+1); got != want {
		t.Errorf("echo server saw %d requests, want %d (one probe)", got, want)
	}

	if _, err := RemoteLoad(addr, "wrong")(ctx, job); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong token: %v, want 401", err)
	}
	bad := job
	bad.Mesh.Target = "127.0.0.1:1" // nothing listens: the job fails, the reply says why
	if _, err := RemoteLoad(addr, "s3cret")(ctx, bad); err == nil || !strings.Contains(err.Error(), "load in the client pod") {
		t.Errorf("failing job: %v", err)
	}
	ls.busy.Lock()
	if _, err := RemoteLoad(addr, "s3cret")(ctx, job); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("busy server: %v, want 409", err)
	}
	ls.busy.Unlock()
	for _, tc := range []struct{ method, path string }{{http.MethodGet, LoadPath}, {http.MethodPost, "/other"}} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("%s %s accepted", tc.method, tc.path)
		}
	}
}

// TestServeLoadUnixSocket serves load jobs on a Unix socket, as the local
// datapath's client pod does for the agent in the host's namespace.
func TestServeLoadUnixSocket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	echo, err := loadgen.Serve(ctx, loadgen.ServerConfig{Protocol: loadgen.TCP, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("t0k\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "load.sock")
	done := make(chan error, 1)
	sctx, stop := context.WithCancel(ctx)
	go func() { done <- ServeLoad(sctx, "unix:"+sock, token) }()
	for range 100 {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	job := LoadJob{Rounds: 2, Mesh: loadgen.LoadConfig{Protocol: loadgen.TCP, Target: echo.Addrs()[0], RatePerSecond: 100,
		RequestBytes: 10, ResponseBytes: 10, Duration: 100 * time.Millisecond, Connections: 2, Arrivals: loadgen.Poisson}}
	out, err := RemoteLoad("unix:"+sock, "t0k")(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Mesh) != 2 || out.Mesh[0].Probes != 2 || out.Mesh[1].Probes != 0 {
		t.Errorf("rounds %d, probes %d then %d: want 2 rounds on one session of 2 connections", len(out.Mesh), out.Mesh[0].Probes, out.Mesh[1].Probes)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("ServeLoad: %v", err)
	}
	if err := ServeLoad(ctx, "unix:"+filepath.Join(dir, "other.sock"), filepath.Join(dir, "missing")); err == nil {
		t.Error("served without a token file")
	}
}
