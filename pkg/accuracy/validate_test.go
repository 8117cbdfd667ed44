package accuracy

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/accuracy/experiment"
	"github.com/meshinsight/kubectl-meshinsight/pkg/datapath"
)

func TestChainSpec(t *testing.T) {
	spec := ChainSpec(experiment.DefaultTopology(), "mv-x")
	if len(spec.Pods) != 5 || len(spec.Edges) != 4 || !slices.Equal(spec.ExcludePorts, []int{BypassPort}) {
		t.Errorf("chain spec %+v", spec)
	}
	if spec.Edges[2].Mode != datapath.ModeTCP || !spec.Edges[2].MTLS {
		t.Errorf("front->cache edge %+v, want tcp with mTLS", spec.Edges[2])
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
		"zero rate":   func(c *Config) { c.Rates = []float64{0} },
		"long prefix": func(c *Config) { c.Prefix = "0123456789" },
		"short run":   func(c *Config) { c.Duration = time.Millisecond },
		"bad topology": func(c *Config) {
			c.Topology = experiment.Topology{Entry: "e", Calls: []experiment.Call{{From: "e", To: "a", Protocol: "udp"}}}
		},
	} {
		c := good
		modify(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", name, err)
		}
	}
}
