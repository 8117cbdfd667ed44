//go:build !linux

package agent

import (
	"context"
	"errors"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// Result is a finished local profile: the fitted profile and the raw
// measurements it was fitted from.
type Result struct {
	Profile      *profile.Profile
	Measurements []Measurement
	// Memory are the memory model's measurements, when it was measured.
	Memory  []MemoryMeasurement
	Elapsed time.Duration
}

// ErrUnsupported is returned by Run on systems other than Linux.
var ErrUnsupported = errors.New("local profiling needs Linux (network namespaces, eBPF)")

// Run needs Linux.
func Run(ctx context.Context, cfg Config) (*Result, error) { return nil, ErrUnsupported }

// Cleanup needs Linux.
func Cleanup(ctx context.Context, prefix string) error { return ErrUnsupported }
