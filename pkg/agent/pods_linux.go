package agent

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/meshinsight/kubectl-meshinsight/pkg/datapath"
)

// PodTestbed measures proxies the agent did not start, such as the
// injected sidecars of two benchmark pods: the load generator joins the
// client's network namespace (setns into ClientNetns), so its requests
// are intercepted by the client's own redirection rules exactly as the
// application's would be.
type PodTestbed struct {
	// ClientNetns is the client's network namespace, /proc/PID/ns/net.
	ClientNetns string
	// Outbound and Inbound are the host PIDs of the client's and the
	// server's proxies.
	Outbound, Inbound int
	// Mesh and Bypass are the intercepted and the excluded target.
	Mesh, Bypass string
	// Helper is the load helper's argv prefix; Dir and Prefix name its job
	// files.
	Helper      []string
	Dir, Prefix string
	seq         atomic.Int64
}

// MeshTarget implements Testbed.
func (b *PodTestbed) MeshTarget() string { return b.Mesh }

// BypassTarget implements Testbed.
func (b *PodTestbed) BypassTarget() string { return b.Bypass }

// ProxyPIDs implements Testbed.
func (b *PodTestbed) ProxyPIDs() (outbound, inbound int) { return b.Outbound, b.Inbound }

// RunLoad implements Testbed: the helper runs as root (not the proxy's uid
// 1337, which the redirection exempts) inside the client's namespace.
func (b *PodTestbed) RunLoad(ctx context.Context, job LoadJob) (*LoadOutcome, error) {
	name := fmt.Sprintf("%s-%d", b.Prefix, b.seq.Add(1))
	return RunLoadJob(ctx, b.Dir, name, b.Helper, job, func(argv []string) (*datapath.Process, error) {
		return datapath.StartInNetns(b.ClientNetns, "load", argv, helperUID, helperUID)
	})
}

// Close implements Testbed: the pods belong to whoever deployed them.
func (b *PodTestbed) Close() error { return nil }
