package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
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
	addr := strings.TrimPrefix(srv.URL, "http://")
	job := LoadJob{Rounds: 1, Mesh: loadgen.LoadConfig{Protocol: loadgen.HTTP, Target: echo.Addrs()[0], RatePerSecond: 200,
		RequestBytes: 100, ResponseBytes: 100, Duration: 200 * time.Millisecond, Connections: 1}}

	out, err := RemoteLoad(addr, "s3cret")(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Mesh) != 1 || out.Mesh[0].Completed == 0 {
		t.Fatalf("outcome %+v: want one round with completed requests", out)
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
