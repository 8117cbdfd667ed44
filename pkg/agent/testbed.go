package agent

import (
	"context"
)

// Testbed is where one variant's cells are measured: a client that load
// can be sent from, through two proxies (outbound, inbound) to a server,
// or around them to the same server (the bypass). The node-local datapath
// (Rig) is one; the injected benchmark pods of a cluster are another.
type Testbed interface {
	// MeshTarget is the address the client dials through both proxies.
	MeshTarget() string
	// BypassTarget is the address the client dials around them.
	BypassTarget() string
	// ProxyPIDs are the host PIDs of the outbound and inbound proxies.
	ProxyPIDs() (outbound, inbound int)
	// RunLoad runs a load job from the client and returns its outcome.
	RunLoad(ctx context.Context, job LoadJob) (*LoadOutcome, error)
	// Close releases what the testbed created.
	Close() error
}

// Variant is the protocol × mTLS combination a testbed is built for.
type Variant struct {
	// Protocol is "tcp" or "http".
	Protocol string
	MTLS     bool
	// Prefix names what the testbed creates; Proxy is the proxy kind of a
	// local datapath.
	Prefix, Proxy string
	// Helper is the argv prefix of the serve/load helper program.
	Helper []string
	// Dir is a private temporary directory for job files.
	Dir string
}

// TestbedFunc builds the testbed of one variant.
type TestbedFunc func(ctx context.Context, v Variant) (Testbed, error)
