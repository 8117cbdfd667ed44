package agent

import (
	"errors"
	"fmt"
	"slices"

	"github.com/meshinsight/kubectl-meshinsight/pkg/datapath"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/spread"
)

// Defaults of the memory measurement of a local profile: the proxy with
// 10, 100 and 1000 upstream services of 1 and 4 endpoints each, at 1 and
// 2 worker threads (12 configurations, about 15 s).
var (
	DefaultMemoryServices  = []int{10, 100, 1000}
	DefaultMemoryEndpoints = []int{1, 4}
	DefaultMemoryThreads   = []int{1, 2}
)

// MemoryProxies are the proxies whose configuration renderer can add
// upstream services (datapath.Upstreams).
var MemoryProxies = []string{"haproxy"}

// MemoryMeasurement is the resident memory of one proxy process started
// with one configuration.
type MemoryMeasurement struct {
	Upstreams datapath.Upstreams   `json:"upstreams"`
	Config    profile.MemoryConfig `json:"config"`
	// RSSBytes is the process's resident set size (VmRSS) once it settled.
	RSSBytes float64 `json:"rssBytes"`
}

// memoryCell is one configuration of the memory measurement.
type memoryCell struct {
	upstreams datapath.Upstreams
	threads   int
}

// memoryCells lists the configurations to measure, smallest first.
func (c Config) memoryCells() []memoryCell {
	var out []memoryCell
	for _, s := range c.MemoryServices {
		for _, e := range c.MemoryEndpoints {
			for _, t := range c.MemoryThreads {
				out = append(out, memoryCell{datapath.Upstreams{Services: s, EndpointsPerService: e}, t})
			}
		}
	}
	return out
}

// measuresMemory reports whether the run measures a memory model: asked
// for, on a datapath the agent builds, with a proxy that can render
// upstream services.
func (c Config) measuresMemory() bool {
	return len(c.MemoryServices) > 0 && c.Testbeds == nil && slices.Contains(MemoryProxies, c.Proxy)
}

// validateMemory checks the memory measurement's configuration.
func (c Config) validateMemory() error {
	if len(c.MemoryServices) == 0 {
		return nil
	}
	if len(c.MemoryEndpoints) == 0 || len(c.MemoryThreads) == 0 {
		return errors.New("memory services need endpoints per service and worker threads too")
	}
	for _, s := range c.MemoryServices {
		for _, e := range c.MemoryEndpoints {
			if s < 1 || e < 1 {
				return fmt.Errorf("memory configuration of %d services of %d endpoints: want at least 1 of each", s, e)
			}
			if err := (datapath.Upstreams{Services: s, EndpointsPerService: e}).Validate(); err != nil {
				return err
			}
		}
	}
	for _, t := range c.MemoryThreads {
		if t < 1 || t > 64 {
			return fmt.Errorf("memory worker threads %d: want 1 to 64", t)
		}
	}
	return nil
}

// MemoryMethod describes how a measured memory model was obtained.
const MemoryMethod = "; memory: the proxy started alone in a network namespace with the datapath's own sidecar configuration " +
	"plus N upstream services (a backend each, E servers per backend, a Host-header route each) at T worker threads, " +
	"its VmRSS read once settled, fitted as base + per cluster + per endpoint + per worker thread (non-negative least squares), " +
	"checked against the RSS of the profiled datapath's sidecars after their load"

// MemoryCost turns the memory measurements into the profile's sidecar
// cost: the fitted model, checked against the resident memory of the
// datapath proxies the cells measured (the median over every cell of the
// HTTP, mTLS-off variant, whose configuration the sweep extends; no check
// without that variant). Its flat figure is that measured memory, else the
// model at the datapath's size.
func MemoryCost(mem []MemoryMeasurement, cells []Measurement) (profile.ProxyCost, error) {
	pts := make([]profile.MemoryPoint, len(mem))
	for i, m := range mem {
		pts[i] = profile.MemoryPoint{Config: m.Config, Bytes: m.RSSBytes}
	}
	model, err := profile.FitMemory(pts)
	if err != nil {
		return profile.ProxyCost{}, fmt.Errorf("fitting the memory model: %w", err)
	}
	own := datapath.ConfigSizeOf(datapath.ProxyConfig{})
	at := profile.MemoryConfig{Clusters: own.Clusters, Endpoints: own.Endpoints, WorkerThreads: datapathThreads}
	cost := profile.ProxyCost{Mode: dataplane.Sidecar, MemoryMiB: model.MiB(at), Memory: &model}
	var rss []float64
	for _, m := range cells {
		if m.Protocol != string(dataplane.HTTP) || m.MTLS {
			continue
		}
		for _, s := range m.Sides {
			if s.RSSBytes > 0 {
				rss = append(rss, float64(s.RSSBytes))
			}
		}
	}
	if len(rss) > 0 {
		measured := spread.Of(rss).Median
		model.Fit.Check = &profile.MemoryCheck{
			What:   fmt.Sprintf("the profiled datapath's sidecars (http, mTLS off): median of %d readings, one per proxy after each cell's load", len(rss)),
			Config: at, MeasuredBytes: measured, PredictedBytes: model.Bytes(at)}
		cost.MemoryMiB = measured / profile.MiB
	}
	return cost, nil
}

// datapathThreads is the worker threads of the datapath's sidecars (the
// datapath's default).
const datapathThreads = 1

// describeModel renders a memory model for progress lines.
func describeModel(m *profile.MemoryModel) string {
	return fmt.Sprintf("memory %.2f MiB + %.0f B per cluster + %.0f B per endpoint + %.0f B per worker thread",
		m.BaseBytes/profile.MiB, m.PerClusterBytes, m.PerEndpointBytes, m.PerWorkerThreadBytes)
}

// checkNote renders a memory check for progress lines.
func checkNote(c *profile.MemoryCheck) string {
	if c == nil {
		return "; not checked (no http, mTLS-off cells)"
	}
	return fmt.Sprintf("; the datapath's sidecars hold %.2f MiB, the model predicts %.2f MiB (%+.1f%%)",
		c.MeasuredBytes/profile.MiB, c.PredictedBytes/profile.MiB, 100*c.Error())
}
