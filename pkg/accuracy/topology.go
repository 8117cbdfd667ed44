package accuracy

import (
	"net/netip"
	"path/filepath"
	"strconv"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/accuracy/experiment"
	"github.com/meshinsight/kubectl-meshinsight/pkg/datapath"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/loadgen"
)

// Ports every service listens on: the meshed port, and the bypass port that
// every pod excludes from interception inbound and outbound.
const (
	MeshPort   = 8080
	BypassPort = 9090
)

// DatapathSpec is the datapath of c's topology, every field set: a sidecar
// in every pod, configured as c says, one routed edge per call, the bypass
// port excluded from interception everywhere.
func (c Chain) DatapathSpec(prefix string) datapath.ChainSpec {
	t := c.Topology
	spec := datapath.ChainSpec{
		Prefix: prefix, Subnet: datapath.DefaultChainSubnet, ExcludePorts: []int{BypassPort},
		Proxy: c.Proxy, ProxyThreads: c.threads(), MaxConn: c.maxConn(),
	}
	for _, p := range t.Pods() {
		spec.Pods = append(spec.Pods, datapath.ChainPod{Name: p, Sidecar: true})
	}
	for _, call := range t.Calls {
		mode := datapath.ModeHTTP
		if call.Protocol == dataplane.TCP {
			mode = datapath.ModeTCP
		}
		spec.Edges = append(spec.Edges, datapath.ChainEdge{From: call.From, To: call.To, Mode: mode, MTLS: call.MTLS})
	}
	return spec
}

// RelayConfig is service s's relay: its mesh listener calls the callees'
// mesh ports (through the sidecars), its bypass listener their bypass ports.
// addr maps pods to addresses; the admin socket goes into dir.
func RelayConfig(t experiment.Topology, s string, addr func(string) netip.Addr, dir string) loadgen.RelayConfig {
	cfg := loadgen.RelayConfig{
		Name:        s,
		Protocol:    loadgen.Protocol(t.Inbound(s).Protocol),
		AdminSocket: RelaySocket(dir, s),
	}
	for _, l := range []struct {
		name string
		port int
	}{{SideMesh, MeshPort}, {SideBypass, BypassPort}} {
		rl := loadgen.RelayListener{Name: l.name, Address: ":" + strconv.Itoa(l.port)}
		for _, c := range t.CallsFrom(s) {
			rl.Calls = append(rl.Calls, loadgen.RelayCall{
				To: c.To, Protocol: loadgen.Protocol(c.Protocol),
				Target:       netip.AddrPortFrom(addr(c.To), uint16(l.port)).String(),
				RequestBytes: c.RequestBytes, ResponseBytes: c.ResponseBytes,
			})
		}
		cfg.Listeners = append(cfg.Listeners, rl)
	}
	return cfg
}

// RelaySocket is the admin socket of service s's relay in dir.
func RelaySocket(dir, s string) string { return filepath.Join(dir, "relay-"+s+".sock") }

// loadTimeout bounds each request of the load generator.
const loadTimeout = 2 * time.Second

// LoadConfig is the load generator's run in the entry pod at rate, for d,
// on side (SideMesh or SideBypass): the entry call's protocol and sizes to
// its callee's port on that side, over c's connections. addr maps pods to
// addresses.
func (c Chain) LoadConfig(addr func(string) netip.Addr, rate float64, side string, d time.Duration) loadgen.LoadConfig {
	entry := c.Topology.EntryCalls()[0]
	port := MeshPort
	if side == SideBypass {
		port = BypassPort
	}
	return loadgen.LoadConfig{
		Protocol:      loadgen.Protocol(entry.Protocol),
		Target:        netip.AddrPortFrom(addr(entry.To), uint16(port)).String(),
		RatePerSecond: rate, RequestBytes: entry.RequestBytes, ResponseBytes: entry.ResponseBytes,
		Duration: d, Connections: c.Connections, Timeout: loadTimeout,
		// The chain's clients are independent of one another, as a
		// service's are: Poisson arrivals, as the profile was taken with.
		Arrivals: loadgen.Poisson,
	}
}
