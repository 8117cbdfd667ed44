//go:build linux && privileged

package agent

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/internal/privtest"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// TestLocalMemoryModel is issue 16's memory check on a real haproxy: a
// small local profile (http, mTLS off, one cell) whose memory model is
// fitted from the proxy's resident memory with 10 to 1000 upstream
// services of 1 and 4 endpoints at 1 and 2 worker threads, then predicts
// the memory of the datapath's own sidecars (2 clusters, 2 endpoints, one
// thread: a configuration it was not fitted on) within 10 % of what they
// held after the cell's load. Run it alone with
// `go test -tags privileged -run TestLocalMemoryModel ./pkg/agent/`.
func TestLocalMemoryModel(t *testing.T) {
	ctx, cancel := context.WithTimeout(suite.Ctx, 3*time.Minute)
	defer cancel()
	prefix := suite.Prefix + "y"
	cfg := Config{
		Proxy: "haproxy", Protocols: []string{"http"}, MTLS: []bool{false}, Sizes: []int{1024}, Rates: []float64{500},
		Duration: time.Second, Rounds: 2, Helper: suite.Helper, Prefix: prefix, Progress: privtest.LogWriter{TB: t},
		MemoryServices: DefaultMemoryServices, MemoryEndpoints: DefaultMemoryEndpoints, MemoryThreads: DefaultMemoryThreads,
	}
	res := runLeavingNothing(ctx, t, cfg)
	if len(res.Memory) != 12 {
		t.Fatalf("%d memory measurements, want 12", len(res.Memory))
	}
	for _, m := range res.Memory {
		t.Logf("%4d clusters %5d endpoints %d thread(s): %.3f MiB", m.Config.Clusters, m.Config.Endpoints, m.Config.WorkerThreads, m.RSSBytes/profile.MiB)
	}
	m, ok := res.Profile.ProxyMemory(dataplane.Sidecar)
	if !ok {
		t.Fatal("the profile has no sidecar memory model")
	}
	t.Logf("model: %s; R² %.5f over %d configurations", describeModel(m), m.Fit.R2, m.Fit.Samples)
	if !(m.BaseBytes > 1<<20) || !(m.PerClusterBytes > 0) || !(m.PerEndpointBytes > 0) {
		t.Errorf("model %+v: want a base and a cost per cluster and per endpoint", m)
	}
	if m.Fit.R2 < 0.99 || m.Fit.MaxClusters != 1002 || m.Fit.MaxEndpoints != 4002 {
		t.Errorf("fit %+v: want R² ≥ 0.99 up to 1002 clusters and 4002 endpoints", m.Fit)
	}
	c := m.Fit.Check
	if c == nil {
		t.Fatal("no check against the datapath's sidecars")
	}
	t.Logf("datapath sidecars: %.3f MiB measured, %.3f MiB predicted (%+.1f%%)", c.MeasuredBytes/profile.MiB, c.PredictedBytes/profile.MiB, 100*c.Error())
	if math.Abs(c.Error()) > 0.10 {
		t.Errorf("the model predicts the datapath's sidecars %+.1f%% off, want within 10%%", 100*c.Error())
	}
}
