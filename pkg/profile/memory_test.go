package profile

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
)

func TestFitMemory(t *testing.T) {
	exact := MemoryModel{BaseBytes: 14e6, PerClusterBytes: 11000, PerEndpointBytes: 5000, PerWorkerThreadBytes: 400e3}
	var grid []MemoryPoint
	for _, services := range []int{10, 100, 1000} {
		for _, eps := range []int{1, 4} {
			for _, threads := range []int{1, 2} {
				c := MemoryConfig{Clusters: services + 2, Endpoints: services*eps + 2, WorkerThreads: threads}
				grid = append(grid, MemoryPoint{Config: c, Bytes: exact.Bytes(c)})
			}
		}
	}
	oneThread := func(pts []MemoryPoint) []MemoryPoint {
		var out []MemoryPoint
		for _, p := range pts {
			if p.Config.WorkerThreads == 1 {
				out = append(out, p)
			}
		}
		return out
	}
	// Endpoints that shrink memory are noise: the fit drops them.
	noisy := []MemoryPoint{
		{MemoryConfig{Clusters: 10, Endpoints: 40}, 1000 + 10*100},
		{MemoryConfig{Clusters: 100, Endpoints: 20}, 1000 + 100*100},
		{MemoryConfig{Clusters: 1000, Endpoints: 10}, 1000 + 1000*100},
		{MemoryConfig{Clusters: 500, Endpoints: 30}, 1000 + 500*100 - 50},
	}
	cases := []struct {
		name string
		pts  []MemoryPoint
		want MemoryModel
		r2   float64
		tol  float64 // relative
	}{
		{"recovers every coefficient", grid, exact, 1, 1e-3},
		// Threads that never vary cannot be told from the base.
		{"constant threads fold into the base", oneThread(grid),
			MemoryModel{BaseBytes: exact.BaseBytes + exact.PerWorkerThreadBytes, PerClusterBytes: 11000, PerEndpointBytes: 5000}, 1, 1e-3},
		{"negative coefficient dropped", noisy, MemoryModel{BaseBytes: 1000, PerClusterBytes: 100}, 1, 0.02},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := FitMemory(c.pts)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []struct {
				name      string
				got, want float64
			}{{"base", got.BaseBytes, c.want.BaseBytes}, {"cluster", got.PerClusterBytes, c.want.PerClusterBytes},
				{"endpoint", got.PerEndpointBytes, c.want.PerEndpointBytes}, {"thread", got.PerWorkerThreadBytes, c.want.PerWorkerThreadBytes}} {
				if math.Abs(f.got-f.want) > c.tol*math.Abs(f.want)+2 {
					t.Errorf("%s: got %.4g, want %.4g", f.name, f.got, f.want)
				}
			}
			if got.Fit == nil || math.Abs(got.Fit.R2-c.r2) > 1e-3 || got.Fit.Samples != len(c.pts) {
				t.Errorf("fit %+v, want R² %v over %d samples", got.Fit, c.r2, len(c.pts))
			}
		})
	}
	if got, _ := FitMemory(grid); got.Fit.MaxClusters != 1002 || got.Fit.MaxEndpoints != 4002 {
		t.Errorf("range %+v, want 1002 clusters and 4002 endpoints", got.Fit)
	}
	if _, err := FitMemory([]MemoryPoint{{Bytes: 1}}); !errors.Is(err, ErrMemoryFit) {
		t.Errorf("one point: err %v, want ErrMemoryFit", err)
	}
}

func TestMemoryModelValidation(t *testing.T) {
	p, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	m, ok := p.ProxyMemory(dataplane.Sidecar)
	if !ok {
		t.Fatal("the reference profile has no sidecar memory model")
	}
	bad := *m
	bad.PerClusterBytes = -1
	for i := range p.Proxies {
		if p.Proxies[i].Mode == dataplane.Sidecar {
			p.Proxies[i].Memory = &bad
		}
	}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "perClusterBytes") {
		t.Errorf("negative per-cluster bytes: err %v", err)
	}
}

func TestMemoryCheckError(t *testing.T) {
	c := MemoryCheck{MeasuredBytes: 100, PredictedBytes: 108}
	if e := c.Error(); math.Abs(e-0.08) > 1e-12 {
		t.Errorf("error %v, want 0.08", e)
	}
}
