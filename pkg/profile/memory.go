package profile

import (
	"errors"
	"fmt"
	"math"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
)

// MiB is a mebibyte in bytes: MemoryModel works in bytes, reports in MiB.
const MiB = 1 << 20

// MemoryModel is one proxy instance's memory as a function of the
// configuration it holds: Base + PerCluster × clusters + PerEndpoint ×
// endpoints + PerWorkerThread × worker threads, in bytes. A cluster is an
// upstream service port (plus one per DestinationRule subset), an endpoint
// one address in one cluster (Envoy's "host").
type MemoryModel struct {
	BaseBytes        float64 `json:"baseBytes"`
	PerClusterBytes  float64 `json:"perClusterBytes"`
	PerEndpointBytes float64 `json:"perEndpointBytes"`
	// PerWorkerThreadBytes is zero when the figures do not separate it
	// (then BaseBytes holds the threads it was measured with).
	PerWorkerThreadBytes float64 `json:"perWorkerThreadBytes,omitempty"`
	// Fit says how well a measured model matched its measurements; nil for
	// a model built from published figures.
	Fit *MemoryFit `json:"fit,omitempty"`
	// Source refers to Provenance.Sources by ID, for reference profiles.
	Source string `json:"source,omitempty"`
	Note   string `json:"note,omitempty"`
}

// MemoryConfig is the size of one proxy's configuration, what a
// MemoryModel is evaluated at.
type MemoryConfig struct {
	Clusters      int `json:"clusters"`
	Endpoints     int `json:"endpoints"`
	WorkerThreads int `json:"workerThreads,omitempty"`
}

// MemoryFit reports a fitted memory model's quality and range.
type MemoryFit struct {
	R2      float64 `json:"r2"`
	Samples int     `json:"samples"`
	// MaxClusters and MaxEndpoints are the largest configuration measured.
	MaxClusters  int `json:"maxClusters"`
	MaxEndpoints int `json:"maxEndpoints"`
	// Check compares the model with the memory of the proxies the profile
	// measured CPU and latency on; nil when not made.
	Check *MemoryCheck `json:"check,omitempty"`
}

// MemoryCheck compares a memory model's prediction with a proxy's measured
// resident memory at a configuration the model was not fitted on.
type MemoryCheck struct {
	// What names the proxies measured.
	What   string       `json:"what"`
	Config MemoryConfig `json:"config"`
	// MeasuredBytes is their resident set size; PredictedBytes the model's.
	MeasuredBytes  float64 `json:"measuredBytes"`
	PredictedBytes float64 `json:"predictedBytes"`
}

// Error is (predicted − measured) ÷ measured.
func (c MemoryCheck) Error() float64 {
	if c.MeasuredBytes == 0 {
		return math.Inf(1)
	}
	return (c.PredictedBytes - c.MeasuredBytes) / c.MeasuredBytes
}

// Bytes evaluates the model at a configuration size.
func (m MemoryModel) Bytes(c MemoryConfig) float64 {
	return m.BaseBytes + m.PerClusterBytes*float64(c.Clusters) + m.PerEndpointBytes*float64(c.Endpoints) +
		m.PerWorkerThreadBytes*float64(c.WorkerThreads)
}

// MiB evaluates the model in MiB.
func (m MemoryModel) MiB(c MemoryConfig) float64 { return m.Bytes(c) / MiB }

// MemoryPoint is one measurement: a proxy's resident memory with a
// configuration of a given size.
type MemoryPoint struct {
	Config MemoryConfig `json:"config"`
	Bytes  float64      `json:"bytes"`
}

// ErrMemoryFit is returned by FitMemory when the points cannot determine
// a model.
var ErrMemoryFit = errors.New("cannot fit a memory model")

// FitMemory fits Bytes = Base + PerCluster × clusters + PerEndpoint ×
// endpoints + PerWorkerThread × threads by least squares, every
// coefficient non-negative (a proxy never shrinks as its configuration
// grows; a negative coefficient is noise): a variable that comes out
// negative, or does not vary over the points, is left out and the rest
// refitted. It reports R² and the largest configuration measured.
func FitMemory(points []MemoryPoint) (MemoryModel, error) {
	var pts []MemoryPoint
	for _, p := range points {
		if finite(p.Bytes) && p.Bytes >= 0 {
			pts = append(pts, p)
		}
	}
	if len(pts) < 2 {
		return MemoryModel{}, fmt.Errorf("%w: %d usable points, want at least 2", ErrMemoryFit, len(pts))
	}
	// Columns: 0 intercept, 1 clusters, 2 endpoints, 3 worker threads.
	value := func(p MemoryPoint, col int) float64 {
		switch col {
		case 1:
			return float64(p.Config.Clusters)
		case 2:
			return float64(p.Config.Endpoints)
		case 3:
			return float64(p.Config.WorkerThreads)
		}
		return 1
	}
	var active []int
	for col := range 4 {
		if col == 0 || varies(pts, func(p MemoryPoint) float64 { return value(p, col) }) {
			active = append(active, col)
		}
	}
	var coef []float64
	for len(active) > 0 {
		var err error
		coef, err = leastSquares(pts, active, value)
		if err != nil {
			// Collinear columns: drop the last variable and try again.
			active = active[:len(active)-1]
			continue
		}
		worst := -1
		for i, c := range coef {
			if c < 0 && (worst < 0 || c < coef[worst]) {
				worst = i
			}
		}
		if worst < 0 {
			break
		}
		active = append(active[:worst:worst], active[worst+1:]...)
		coef = nil
	}
	var m MemoryModel
	for i, col := range active {
		switch col {
		case 0:
			m.BaseBytes = coef[i]
		case 1:
			m.PerClusterBytes = coef[i]
		case 2:
			m.PerEndpointBytes = coef[i]
		case 3:
			m.PerWorkerThreadBytes = coef[i]
		}
	}
	m.Fit = memoryFit(m, pts)
	return m, nil
}

// memoryFit reports how well m matches pts: R² and the largest
// configuration measured.
func memoryFit(m MemoryModel, pts []MemoryPoint) *MemoryFit {
	fit := &MemoryFit{Samples: len(pts)}
	var mean, res, tot float64
	for _, p := range pts {
		mean += p.Bytes / float64(len(pts))
		fit.MaxClusters = max(fit.MaxClusters, p.Config.Clusters)
		fit.MaxEndpoints = max(fit.MaxEndpoints, p.Config.Endpoints)
	}
	for _, p := range pts {
		d := p.Bytes - m.Bytes(p.Config)
		res += d * d
		tot += (p.Bytes - mean) * (p.Bytes - mean)
	}
	fit.R2 = 1
	if tot > 0 {
		fit.R2 = 1 - res/tot
	} else if res > 0 {
		fit.R2 = 0
	}
	return fit
}

func varies(pts []MemoryPoint, v func(MemoryPoint) float64) bool {
	for _, p := range pts[1:] {
		if v(p) != v(pts[0]) {
			return true
		}
	}
	return false
}

// leastSquares solves the normal equations of the active columns by
// Gaussian elimination with partial pivoting; it fails on a singular
// system (collinear columns).
func leastSquares(pts []MemoryPoint, cols []int, value func(MemoryPoint, int) float64) ([]float64, error) {
	n := len(cols)
	a := make([][]float64, n)
	for i := range a {
		a[i] = make([]float64, n+1)
	}
	for _, p := range pts {
		for i, ci := range cols {
			xi := value(p, ci)
			for j, cj := range cols {
				a[i][j] += xi * value(p, cj)
			}
			a[i][n] += xi * p.Bytes
		}
	}
	for k := range n {
		pivot := k
		for i := k + 1; i < n; i++ {
			if math.Abs(a[i][k]) > math.Abs(a[pivot][k]) {
				pivot = i
			}
		}
		a[k], a[pivot] = a[pivot], a[k]
		// Relative to the column's scale, a vanishing pivot means the
		// column is a combination of the others.
		scale := 0.0
		for i := range n {
			scale = math.Max(scale, math.Abs(a[i][k]))
		}
		if scale == 0 || math.Abs(a[k][k]) <= 1e-9*scale {
			return nil, ErrMemoryFit
		}
		for i := k + 1; i < n; i++ {
			f := a[i][k] / a[k][k]
			for j := k; j <= n; j++ {
				a[i][j] -= f * a[k][j]
			}
		}
	}
	x := make([]float64, n)
	for i := n - 1; i >= 0; i-- {
		s := a[i][n]
		for j := i + 1; j < n; j++ {
			s -= a[i][j] * x[j]
		}
		x[i] = s / a[i][i]
	}
	return x, nil
}

// maxMemoryBytes bounds every figure of a memory model (1 PiB): beyond it a
// profile is corrupt.
const maxMemoryBytes = 1 << 50

// validateMemory checks the memory models of a profile's proxies.
func validateMemory(proxies []ProxyCost, checkSource func(where, id string) error) error {
	for i, c := range proxies {
		m := c.Memory
		if m == nil {
			continue
		}
		where := fmt.Sprintf("proxies[%d] (%s): memory", i, c.Mode)
		for _, f := range []struct {
			name string
			v    float64
		}{{"baseBytes", m.BaseBytes}, {"perClusterBytes", m.PerClusterBytes}, {"perEndpointBytes", m.PerEndpointBytes},
			{"perWorkerThreadBytes", m.PerWorkerThreadBytes}} {
			if !finite(f.v) || f.v < 0 || f.v > maxMemoryBytes {
				return fmt.Errorf("%s: %s is %v, want a number from 0 to %v", where, f.name, f.v, float64(maxMemoryBytes))
			}
		}
		if m.Fit != nil && (!finite(m.Fit.R2) || m.Fit.Samples < 0 || m.Fit.MaxClusters < 0 || m.Fit.MaxEndpoints < 0) {
			return fmt.Errorf("%s: fit: r2 must be a number and the counts not negative", where)
		}
		if err := checkSource(where, m.Source); err != nil {
			return err
		}
	}
	return nil
}

// ProxyMemory is the memory model of a mode's proxy, if the profile has one.
func (p *Profile) ProxyMemory(mode dataplane.Mode) (*MemoryModel, bool) {
	c, ok := p.ProxyCost(mode)
	if !ok || c.Memory == nil {
		return nil, false
	}
	return c.Memory, true
}
