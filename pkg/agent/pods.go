package agent

import (
	"context"
)

// PodTestbed measures proxies the agent did not start, such as the
// injected sidecars of two benchmark pods: the proxies are known by PID,
// and Load runs the load from inside the client pod, so that its requests
// are intercepted by the client's own redirection rules exactly as the
// application's would be (RemoteLoad: by the client pod's own load server;
// NetnsLoad: by a helper that enters the client's network namespace).
type PodTestbed struct {
	// Outbound and Inbound are the host PIDs of the client's and the
	// server's proxies.
	Outbound, Inbound int
	// Mesh and Bypass are the intercepted and the excluded target.
	Mesh, Bypass string
	// Load runs a load job from inside the client pod.
	Load func(ctx context.Context, job LoadJob) (*LoadOutcome, error)
}

// MeshTarget implements Testbed.
func (b *PodTestbed) MeshTarget() string { return b.Mesh }

// BypassTarget implements Testbed.
func (b *PodTestbed) BypassTarget() string { return b.Bypass }

// ProxyPIDs implements Testbed.
func (b *PodTestbed) ProxyPIDs() (outbound, inbound int) { return b.Outbound, b.Inbound }

// RunLoad implements Testbed.
func (b *PodTestbed) RunLoad(ctx context.Context, job LoadJob) (*LoadOutcome, error) {
	return b.Load(ctx, job)
}

// Close implements Testbed: the pods belong to whoever deployed them.
func (b *PodTestbed) Close() error { return nil }
