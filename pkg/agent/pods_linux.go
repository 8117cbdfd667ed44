package agent

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/meshinsight/kubectl-meshinsight/pkg/datapath"
)

// NetnsLoad runs load jobs with the load helper (helper, job files in dir
// named after prefix) inside the network namespace at nsPath, as root (not
// the proxy's uid 1337, which the redirection exempts). Entering another
// pod's namespace takes CAP_SYS_ADMIN, and opening it CAP_SYS_PTRACE.
func NetnsLoad(nsPath string, helper []string, dir, prefix string) func(context.Context, LoadJob) (*LoadOutcome, error) {
	var seq atomic.Int64
	return func(ctx context.Context, job LoadJob) (*LoadOutcome, error) {
		name := fmt.Sprintf("%s-%d", prefix, seq.Add(1))
		return RunLoadJob(ctx, dir, name, helper, job, func(argv []string) (*datapath.Process, error) {
			return datapath.StartInNetns(nsPath, "load", argv, helperUID, helperUID)
		})
	}
}
