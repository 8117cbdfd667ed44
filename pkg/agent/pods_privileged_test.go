//go:build privileged

package agent

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/internal/privtest"
	"github.com/meshinsight/kubectl-meshinsight/pkg/datapath"
)

// podsOverRig is a PodTestbed over a local datapath: the "pods" are its
// network namespaces and the proxies its haproxy processes, found by the
// agent only through a netns path and PIDs, as in a cluster.
type podsOverRig struct {
	*PodTestbed
	rig *Rig
}

func (p podsOverRig) Close() error { return p.rig.Close() }

// TestPodTestbedProfilesForeignProxies runs the agent with a testbed it
// did not build: load enters the client's network namespace by path
// (setns, NetnsLoad) and the proxies are known only by PID.
func TestPodTestbedProfilesForeignProxies(t *testing.T) {
	ctx, cancel := context.WithTimeout(suite.Ctx, 2*time.Minute)
	defer cancel()
	prefix := suite.Prefix + "p"
	var beds int
	cfg := Config{
		Proxy: "haproxy", Mesh: "test-pods", ProxyVersion: "n/a", Protocols: []string{"http"}, MTLS: []bool{false},
		Sizes: []int{1024}, Rates: []float64{300}, Duration: 500 * time.Millisecond, Rounds: 1,
		Helper: suite.Helper, Prefix: prefix, Progress: privtest.LogWriter{TB: t},
		Testbeds: func(ctx context.Context, v Variant) (Testbed, error) {
			beds++
			bed, err := LocalTestbeds(ctx, v)
			if err != nil {
				return nil, err
			}
			rig := bed.(*Rig)
			out, in := rig.ProxyPIDs()
			return podsOverRig{rig: rig, PodTestbed: &PodTestbed{
				Outbound: out, Inbound: in, Mesh: rig.MeshTarget(), Bypass: rig.BypassTarget(),
				Load: NetnsLoad(rig.dp.NetnsPath(datapath.Client), v.Helper, v.Dir, v.Prefix),
			}}, nil
		},
	}
	res := runLeavingNothing(ctx, t, cfg)
	ms := res.Measurements
	if beds != 1 || len(ms) != 1 {
		t.Fatalf("%d testbeds, %d measurements; want 1 and 1", beds, len(ms))
	}
	m := ms[0]
	meshP50, bypassP50, _, _ := m.MedianLatencies()
	for _, s := range m.Sides {
		if s.OnCPUNanos == 0 || s.SchedstatOnCPUNanos == 0 {
			t.Errorf("%s: no CPU measured for proxy %d", s.Side, s.PID)
		}
	}
	if !(bypassP50 < meshP50) && !m.Overloaded() {
		t.Errorf("bypass p50 %.0f µs not below mesh p50 %.0f µs", bypassP50, meshP50)
	}
	if res.Profile.Provenance.Platform.Mesh != "test-pods" {
		t.Errorf("platform %+v", res.Profile.Provenance.Platform)
	}
	t.Logf("%s: %.1f CPU-µs/req, mesh p50 %.0f µs, bypass %.0f µs", m.Cell, m.CPUMicrosPerRequest(), meshP50, bypassP50)

	// A namespace path that does not exist fails the run with a clear error.
	bad := &PodTestbed{Load: NetnsLoad("/proc/999999999/ns/net", suite.Helper, t.TempDir(), "x")}
	if _, err := bad.RunLoad(ctx, LoadJob{Rounds: 1}); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("load into a missing netns: %v", err)
	} else {
		t.Logf("missing netns: %v", fmt.Sprint(err))
	}
}
