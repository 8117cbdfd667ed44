package accuracy

import (
	"net/netip"
	"path/filepath"
	"strconv"

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

// ChainSpec is the datapath of t: a sidecar in every pod, one routed edge
// per call, the bypass port excluded from interception everywhere.
func ChainSpec(t experiment.Topology, prefix string) datapath.ChainSpec {
	spec := datapath.ChainSpec{Prefix: prefix, ExcludePorts: []int{BypassPort}}
	for _, p := range t.Pods() {
		spec.Pods = append(spec.Pods, datapath.ChainPod{Name: p, Sidecar: true})
	}
	for _, c := range t.Calls {
		mode := datapath.ModeHTTP
		if c.Protocol == dataplane.TCP {
			mode = datapath.ModeTCP
		}
		spec.Edges = append(spec.Edges, datapath.ChainEdge{From: c.From, To: c.To, Mode: mode, MTLS: c.MTLS})
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
