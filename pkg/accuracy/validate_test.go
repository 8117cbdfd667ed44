package accuracy

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/accuracy/experiment"
	"github.com/meshinsight/kubectl-meshinsight/pkg/datapath"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

func TestDatapathSpec(t *testing.T) {
	spec := DefaultChain().DatapathSpec("mv-x")
	if len(spec.Pods) != 5 || len(spec.Edges) != 4 || !slices.Equal(spec.ExcludePorts, []int{BypassPort}) {
		t.Errorf("chain spec %+v", spec)
	}
	if spec.Edges[2].Mode != datapath.ModeTCP || !spec.Edges[2].MTLS {
		t.Errorf("front->cache edge %+v, want tcp with mTLS", spec.Edges[2])
	}
	if spec.Proxy != (datapath.HAProxy{}) || spec.ProxyThreads != 1 || spec.MaxConn != 4096 {
		t.Errorf("the default chain's sidecars differ from the agent's: %+v", spec)
	}
	d := DiamondChain().DatapathSpec("mv-x")
	if d.Proxy.HTTPReuse != "always" || d.ProxyThreads != 2 || d.MaxConn != 1024 || len(d.Pods) != 6 || len(d.Edges) != 6 {
		t.Errorf("diamond chain spec %+v", d)
	}
}

func TestRelayConfig(t *testing.T) {
	top := experiment.DefaultTopology()
	addrs := map[string]netip.Addr{}
	for i, p := range top.Pods() {
		addrs[p] = netip.AddrFrom4([4]byte{10, 214, 0, byte(i + 1)})
	}
	rc := RelayConfig(top, "front", func(p string) netip.Addr { return addrs[p] }, "/d")
	if err := rc.Validate(); err != nil {
		t.Fatal(err)
	}
	if rc.Protocol != "http" || rc.AdminSocket != "/d/relay-front.sock" || len(rc.Listeners) != 2 {
		t.Fatalf("relay config %+v", rc)
	}
	mesh, bypass := rc.Listeners[0], rc.Listeners[1]
	if mesh.Name != SideMesh || mesh.Address != ":8080" || mesh.Calls[0].Target != "10.214.0.3:8080" || mesh.Calls[1].Target != "10.214.0.4:8080" {
		t.Errorf("mesh listener %+v", mesh)
	}
	if bypass.Name != SideBypass || bypass.Address != ":9090" || bypass.Calls[1].Target != "10.214.0.4:9090" || bypass.Calls[1].Protocol != "tcp" {
		t.Errorf("bypass listener %+v", bypass)
	}
	if leaf := RelayConfig(top, "db", func(p string) netip.Addr { return addrs[p] }, "/d"); leaf.Protocol != "tcp" || len(leaf.Listeners[0].Calls) != 0 {
		t.Errorf("db relay %+v, want a tcp leaf", leaf)
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Helper: []string{"/bin/agent"}, OutDir: "/tmp/x"}.WithDefaults()
	if err := good.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, modify := range map[string]func(*Config){
		"one round":   func(c *Config) { c.Rounds = 1 },
		"no helper":   func(c *Config) { c.Helper = nil },
		"no out dir":  func(c *Config) { c.OutDir = "" },
		"zero rate":   func(c *Config) { c.Chains[1].Rates = []float64{0} },
		"long prefix": func(c *Config) { c.Prefix = "0123456789" },
		"short run":   func(c *Config) { c.Duration = time.Millisecond },
		"bad topology": func(c *Config) {
			c.Chains = []Chain{{Name: "x", Rates: []float64{1}, Connections: 1,
				Topology: experiment.Topology{Entry: "e", Calls: []experiment.Call{{From: "e", To: "a", Protocol: "udp"}}}}}
		},
		"bad chain name": func(c *Config) { c.Chains = []Chain{DefaultChain()}; c.Chains[0].Name = "Default" },
		"chain twice":    func(c *Config) { c.Chains = []Chain{DefaultChain(), DefaultChain()} },
		"no chain rates": func(c *Config) { c.Chains = []Chain{DefaultChain()}; c.Chains[0].Rates = nil },
		"no connections": func(c *Config) { c.Chains = []Chain{DefaultChain()}; c.Chains[0].Connections = 0 },
		"bad reuse":      func(c *Config) { c.Chains = []Chain{DiamondChain()}; c.Chains[0].Proxy.HTTPReuse = "sometimes" },
		"bad threads":    func(c *Config) { c.Chains = []Chain{DiamondChain()}; c.Chains[0].ProxyThreads = 100 },
		"bad maxconn":    func(c *Config) { c.Chains = []Chain{DiamondChain()}; c.Chains[0].MaxConn = -1 },
	} {
		c := good
		modify(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestConfigDefaultsAndOverrides(t *testing.T) {
	c := Config{Helper: []string{"/bin/agent"}, OutDir: "/tmp/x"}.WithDefaults()
	if got := []string{c.Chains[0].Name, c.Chains[1].Name}; !slices.Equal(got, ChainNames()) || len(c.Chains) != 2 {
		t.Fatalf("default chains %v, want every built-in chain %v", got, ChainNames())
	}
	if !slices.Equal(c.Chains[0].Rates, DefaultRates) || c.Chains[0].Connections != DefaultConnections {
		t.Errorf("default chain %+v", c.Chains[0])
	}
	// The diamond's load generator differs from the default chain's.
	if c.Chains[1].Connections == c.Chains[0].Connections {
		t.Errorf("both chains load with %d connections", c.Chains[0].Connections)
	}
	o := Config{Rates: []float64{100}, Connections: 3, Chains: []Chain{DiamondChain()}, Helper: []string{"/bin/agent"}, OutDir: "/tmp/x"}.WithDefaults()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if ch := o.Chains[0]; !slices.Equal(ch.Rates, []float64{100}) || ch.Connections != 3 || ch.Name != "diamond" {
		t.Errorf("overridden chain %+v, want rates [100] and 3 connections", ch)
	}
	// WithDefaults must not write through to the built-in chains.
	if DiamondChain().Connections == 3 {
		t.Error("the override changed the built-in chain")
	}
}

func TestChainsNamed(t *testing.T) {
	got, err := ChainsNamed([]string{"diamond", "default"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "diamond" || got[1].Name != "default" {
		t.Errorf("chains %v, want diamond then default", got)
	}
	for _, bad := range [][]string{{"nope"}, {"default", "default"}} {
		if _, err := ChainsNamed(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%v: %v, want ErrInvalidConfig", bad, err)
		}
	}
}

func TestChainSetupAndGraph(t *testing.T) {
	def, dia := DefaultChain(), DiamondChain()
	if s := def.Setup(); !strings.Contains(s, "1 worker thread") || !strings.Contains(s, "http-reuse safe") || !strings.Contains(s, "8 keep-alive") {
		t.Errorf("default setup %q", s)
	}
	if s := dia.Setup(); !strings.Contains(s, "2 worker thread") || !strings.Contains(s, "http-reuse always") ||
		!strings.Contains(s, "maxconn 1024") || !strings.Contains(s, "connect 2s") || !strings.Contains(s, "32 keep-alive") {
		t.Errorf("diamond setup %q", s)
	}
	for _, w := range dia.Graph(100).Workloads {
		if w.ProxyConcurrency == nil || *w.ProxyConcurrency != 2 {
			t.Errorf("%s: proxy concurrency %v, want 2", w.Name, w.ProxyConcurrency)
		}
	}
	prof := &profile.Profile{OperatingPoint: &profile.OperatingPoint{RequestsPerSecond: 150, ProxyThreads: 1}}
	if n := def.predictionNotes(prof); len(n) != 0 {
		t.Errorf("the default chain is the agent's configuration, yet notes %v", n)
	}
	if n := dia.predictionNotes(prof); len(n) != 2 || !strings.Contains(n[0], "2 worker threads") || !strings.Contains(n[0], "queueing term serves each sidecar with them") {
		t.Errorf("diamond notes %v, want threads (with the queueing term's) and reuse", n)
	}
	if n := dia.predictionNotes(&profile.Profile{}); len(n) != 2 || !strings.Contains(n[0], "no queueing term") {
		t.Errorf("diamond notes without an operating point %v, want no queueing term said", n)
	}
}

func TestRelayConfigJoin(t *testing.T) {
	// The store is called by users and catalog: both relays call its
	// address, and it serves its one inbound protocol.
	top := experiment.DiamondTopology()
	addr := func(p string) netip.Addr {
		return netip.AddrFrom4([4]byte{10, 214, 0, byte(slices.Index(top.Pods(), p) + 1)})
	}
	store := addr("store").String() + ":8080"
	for _, caller := range []string{"users", "catalog"} {
		rc := RelayConfig(top, caller, addr, "/d")
		if err := rc.Validate(); err != nil {
			t.Fatal(err)
		}
		if calls := rc.Listeners[0].Calls; len(calls) != 1 || calls[0].Target != store || calls[0].Protocol != "tcp" {
			t.Errorf("%s calls %+v, want the store at %s over tcp", caller, calls, store)
		}
	}
	if rc := RelayConfig(top, "store", addr, "/d"); rc.Protocol != "tcp" || len(rc.Listeners[0].Calls) != 0 {
		t.Errorf("store relay %+v, want a tcp leaf", rc)
	}
	if rc := RelayConfig(top, "gateway", addr, "/d"); len(rc.Listeners[0].Calls) != 3 {
		t.Errorf("gateway relay %+v, want a fan-out of three", rc)
	}
}

func TestChainLoadConfig(t *testing.T) {
	addr := func(p string) netip.Addr {
		return netip.AddrFrom4([4]byte{10, 214, 0, byte(slices.Index(experiment.DiamondTopology().Pods(), p) + 1)})
	}
	lc := DiamondChain().LoadConfig(addr, 300, SideBypass, time.Second)
	if err := lc.Validate(); err != nil {
		t.Fatal(err)
	}
	if lc.Connections != 32 || lc.Target != "10.214.0.2:9090" || lc.Protocol != "http" || lc.RequestBytes != 300 || lc.ResponseBytes != 1500 || lc.RatePerSecond != 300 {
		t.Errorf("diamond load %+v, want 32 connections to the gateway's bypass port", lc)
	}
	if lc := DefaultChain().LoadConfig(addr, 150, SideMesh, time.Second); lc.Connections != DefaultConnections || !strings.HasSuffix(lc.Target, ":8080") {
		t.Errorf("default load %+v", lc)
	}
}
