package agent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/loadgen"
)

func TestArgv(t *testing.T) {
	got := ServeArgv([]string{"/agent"}, loadgen.TCP, ":8080,:9090")
	if want := []string{"/agent", "serve", "--protocol", "tcp", "--listen", ":8080,:9090"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ServeArgv = %q, want %q", got, want)
	}
	got = LoadArgv([]string{"/test", "-helper"}, "j.json", "o.json")
	if want := []string{"/test", "-helper", "load", "--job", "j.json", "--out", "o.json"}; !reflect.DeepEqual(got, want) {
		t.Errorf("LoadArgv = %q, want %q", got, want)
	}
}

// TestRunLoadFile runs the load helper against two echo listeners on
// 127.0.0.1, standing in for the mesh and bypass ports.
func TestRunLoadFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := loadgen.Serve(ctx, loadgen.ServerConfig{Protocol: loadgen.HTTP, Listen: "127.0.0.1:0,127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	addrs := srv.Addrs()
	lc := loadgen.LoadConfig{Protocol: loadgen.HTTP, Target: addrs[0], RatePerSecond: 200,
		RequestBytes: 100, ResponseBytes: 200, Duration: 200 * time.Millisecond}
	bypass := lc
	bypass.Target = addrs[1]
	dir := t.TempDir()
	job, _ := json.Marshal(LoadJob{Mesh: lc, Bypass: bypass, Rounds: 2})
	jobPath, outPath := filepath.Join(dir, "job.json"), filepath.Join(dir, "out.json")
	if err := os.WriteFile(jobPath, job, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := RunLoadFile(ctx, jobPath, outPath, nil); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	var out LoadOutcome
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Mesh) != 2 || len(out.Bypass) != 2 {
		t.Fatalf("%d mesh and %d bypass results, want 2 each", len(out.Mesh), len(out.Bypass))
	}
	for _, r := range append(out.Mesh, out.Bypass...) {
		if r.Completed == 0 || r.Errors != 0 {
			t.Errorf("result %s: completed %d, errors %d (%s)", r.Target, r.Completed, r.Errors, r.FirstError)
		}
	}
}

func TestRunLoadFileMissingJob(t *testing.T) {
	if err := RunLoadFile(context.Background(), filepath.Join(t.TempDir(), "nope.json"), "-", nil); err == nil {
		t.Fatal("want an error for a missing job file")
	}
}
