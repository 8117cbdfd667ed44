package agent

import (
	"math"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// TestMemoryCost fits measurements taken from a known model and checks it
// against the datapath's proxies of the http, mTLS-off cells only.
func TestMemoryCost(t *testing.T) {
	truth := profile.MemoryModel{BaseBytes: 14e6, PerClusterBytes: 11e3, PerEndpointBytes: 5e3, PerWorkerThreadBytes: 4e5}
	cfg := validConfig()
	cfg.MemoryServices, cfg.MemoryEndpoints, cfg.MemoryThreads = DefaultMemoryServices, DefaultMemoryEndpoints, DefaultMemoryThreads
	var mem []MemoryMeasurement
	for _, c := range cfg.memoryCells() {
		mc := profile.MemoryConfig{Clusters: 2 + c.upstreams.Services, Endpoints: 2 + c.upstreams.Services*c.upstreams.EndpointsPerService,
			WorkerThreads: c.threads}
		mem = append(mem, MemoryMeasurement{Upstreams: c.upstreams, Config: mc, RSSBytes: truth.Bytes(mc)})
	}
	if len(mem) != 12 {
		t.Fatalf("%d memory configurations, want 12", len(mem))
	}
	at := profile.MemoryConfig{Clusters: 2, Endpoints: 2, WorkerThreads: 1}
	side := func(rss float64) SideMeasurement { return SideMeasurement{RSSBytes: uint64(rss)} }
	cells := []Measurement{
		{Cell: Cell{Protocol: "http"}, Sides: []SideMeasurement{side(truth.Bytes(at) * 1.02), side(truth.Bytes(at) * 1.04)}},
		{Cell: Cell{Protocol: "http"}, Sides: []SideMeasurement{side(truth.Bytes(at) * 1.06), side(0)}},
		// Other variants hold TLS state or other buffers: not compared.
		{Cell: Cell{Protocol: "http", MTLS: true}, Sides: []SideMeasurement{side(2 * truth.Bytes(at))}},
		{Cell: Cell{Protocol: "tcp"}, Sides: []SideMeasurement{side(2 * truth.Bytes(at))}},
	}
	cost, err := MemoryCost(mem, cells)
	if err != nil {
		t.Fatal(err)
	}
	m := cost.Memory
	if m == nil || m.Fit == nil || math.Abs(m.Fit.R2-1) > 1e-9 || math.Abs(m.PerClusterBytes-11e3) > 1 || math.Abs(m.PerEndpointBytes-5e3) > 1 {
		t.Fatalf("model %+v (fit %+v)", m, m.Fit)
	}
	c := m.Fit.Check
	if c == nil || c.Config != at || math.Abs(c.MeasuredBytes-truth.Bytes(at)*1.04) > 1 || math.Abs(c.Error()+0.04/1.04) > 1e-6 {
		t.Fatalf("check %+v: want the median of the three http plaintext readings", c)
	}
	if math.Abs(cost.MemoryMiB-c.MeasuredBytes/profile.MiB) > 1e-9 || cost.Mode != "sidecar" {
		t.Errorf("cost %+v: want the measured memory as its flat figure", cost)
	}
	if _, err := MemoryCost(mem[:1], cells); err == nil {
		t.Error("one measurement fitted a model")
	}
	cost, err = MemoryCost(mem, cells[2:])
	if err != nil || cost.Memory.Fit.Check != nil {
		t.Errorf("without http plaintext cells: %v, check %+v", err, cost.Memory.Fit.Check)
	}
}
