//go:build !linux

package accuracy

import (
	"context"
	"errors"

	"github.com/meshinsight/kubectl-meshinsight/pkg/accuracy/experiment"
)

// ErrUnsupported is returned by Run on systems other than Linux.
var ErrUnsupported = errors.New("validation needs Linux (network namespaces, a real sidecar datapath)")

// Run needs Linux.
func Run(ctx context.Context, cfg Config) ([]*experiment.Report, error) { return nil, ErrUnsupported }
