package agent

import (
	"context"
	"os"
	"strings"
	"testing"
)

// pidTestbed is a testbed whose proxies are the given processes.
type pidTestbed struct {
	pid    int
	closed *int
}

func (b pidTestbed) MeshTarget() string                                     { return "" }
func (b pidTestbed) BypassTarget() string                                   { return "" }
func (b pidTestbed) ProxyPIDs() (int, int)                                  { return b.pid, b.pid }
func (b pidTestbed) RunLoad(context.Context, LoadJob) (*LoadOutcome, error) { return nil, nil }
func (b pidTestbed) Close() error                                           { *b.closed++; return nil }

// A proxy that exits between being found and being read (a sidecar that
// restarts on a configuration change) makes the testbed be built again;
// the real node's suite met it with the stand-in's haproxy.
func TestOpenTestbedFindsARestartedProxy(t *testing.T) {
	const gone = 1 << 30 // beyond pid_max: no such process
	for name, tc := range map[string]struct {
		pids     []int // the proxy pid of each build
		wantErr  string
		wantPID  int
		wantBeds int
	}{
		"restarted once":   {pids: []int{gone, os.Getpid()}, wantPID: os.Getpid(), wantBeds: 2},
		"keeps restarting": {pids: []int{gone, gone, gone, os.Getpid()}, wantErr: "no such file or directory", wantBeds: 3},
	} {
		t.Run(name, func(t *testing.T) {
			built, closed := 0, 0
			vr := variantRun{cells: []Cell{{Protocol: "http"}}, cfg: Config{Testbeds: func(context.Context, Variant) (Testbed, error) {
				b := pidTestbed{pid: tc.pids[built], closed: &closed}
				built++
				return b, nil
			}}}
			rig, pids, syms, err := openTestbed(context.Background(), vr)
			if built != tc.wantBeds {
				t.Errorf("built %d testbeds, want %d", built, tc.wantBeds)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				if closed != built {
					t.Errorf("closed %d of %d testbeds", closed, built)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rig == nil || pids[0] != tc.wantPID || syms[tc.wantPID] == nil || closed != built-1 {
				t.Errorf("pids %v, symbols for %v, closed %d of %d", pids, len(syms), closed, built)
			}
		})
	}
}
