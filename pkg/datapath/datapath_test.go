package datapath

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestRulesGolden(t *testing.T) {
	tests := []struct {
		name  string
		rules Rules
	}{
		{"rules-default.golden", Spec{}.rules()},
		{"rules-excluded.golden", Spec{ExcludeInboundPorts: []int{9090, 22, 9090}, ExcludeOutboundPorts: []int{5432, 443}}.rules()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, tt.name, tt.rules.RestoreInput())
		})
	}
}

func TestRulesShape(t *testing.T) {
	r := string(Spec{ExcludeInboundPorts: []int{9090}}.rules().RestoreInput())
	// The owner exemption must come before the catch-all redirect, or the
	// proxy's own outbound connections loop back into it.
	exempt := strings.Index(r, "-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN")
	redirect := strings.Index(r, "-A ISTIO_OUTPUT -j ISTIO_REDIRECT")
	if exempt < 0 || redirect < 0 || exempt > redirect {
		t.Errorf("uid 1337 exemption (at %d) must precede the outbound redirect (at %d)", exempt, redirect)
	}
	bypass := strings.Index(r, "-A ISTIO_INBOUND -p tcp --dport 9090 -j RETURN")
	inbound := strings.Index(r, "-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT")
	if bypass < 0 || bypass > inbound {
		t.Errorf("excluded inbound port (at %d) must precede the inbound redirect (at %d)", bypass, inbound)
	}
	if !strings.HasPrefix(r, "*nat\n") || !strings.HasSuffix(r, "COMMIT\n") {
		t.Errorf("not an iptables-restore nat document:\n%s", r)
	}
}

func testTLS() *TLSFiles {
	return &TLSFiles{CA: "/d/ca.pem", Cert: "/d/c.pem", Key: "/d/k.pem", CertKey: "/d/ck.pem", PeerName: "server.meshinsight.local"}
}

func TestProxyConfigGolden(t *testing.T) {
	base := ProxyConfig{
		InboundPort: InboundPort, OutboundPort: OutboundPort, AppPort: 8080,
		Upstream: netip.MustParseAddrPort("10.213.0.2:8080"),
		MaxConn:  4096, Threads: 1, Dir: "/d/pod", AdminSocket: "/d/pod/admin.sock",
	}
	for _, proxy := range []Proxy{HAProxy{}, NGINX{}} {
		for _, mode := range []Mode{ModeTCP, ModeHTTP} {
			for _, mtls := range []bool{false, true} {
				for _, pod := range Pods {
					c := base
					c.Pod, c.Mode = pod, mode
					name := proxy.Name() + "-" + string(mode) + "-" + string(pod)
					if mtls {
						c.TLS = testTLS()
						name += "-mtls"
					}
					t.Run(name, func(t *testing.T) {
						got, err := proxy.Config(c)
						if err != nil {
							t.Fatal(err)
						}
						golden(t, name+".golden", got)
					})
				}
			}
		}
	}
}

func TestProxyConfigInvariants(t *testing.T) {
	c := ProxyConfig{Pod: Client, Mode: ModeHTTP, InboundPort: 15006, OutboundPort: 15001, MaxConn: 100, Threads: 2, Dir: "/d"}
	got, err := HAProxy{}.Config(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"maxconn 100", "nbthread 2", "bind 0.0.0.0:15006", "bind 0.0.0.0:15001", "server app 127.0.0.1\n", "server dst 0.0.0.0\n", "add-header X-Meshinsight-Via client-outbound"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("haproxy config lacks %q:\n%s", want, got)
		}
	}
	if _, err := (NGINX{}).Config(c); err == nil {
		t.Error("nginx with 2 threads and no AppPort: want an error")
	}
}

func TestProxyConfigErrors(t *testing.T) {
	ok := ProxyConfig{Pod: Server, Mode: ModeTCP, InboundPort: 15006, OutboundPort: 15001, MaxConn: 1, Threads: 1, Dir: "/d"}
	tests := map[string]func(*ProxyConfig){
		"no maxconn": func(c *ProxyConfig) { c.MaxConn = 0 },
		"bad pod":    func(c *ProxyConfig) { c.Pod = "x" },
		"bad mode":   func(c *ProxyConfig) { c.Mode = "udp" },
		"no dir":     func(c *ProxyConfig) { c.Dir = "" },
		"half tls":   func(c *ProxyConfig) { c.TLS = &TLSFiles{CA: "x"} },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			c := ok
			mutate(&c)
			if _, err := (HAProxy{}).Config(c); err == nil {
				t.Error("want an error")
			}
		})
	}
	if _, err := (HAProxy{}).Config(ok); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name    string
		spec    Spec
		wantErr string
	}{
		{"defaults", Spec{Sidecars: SidecarBoth}, ""},
		{"mtls both", Spec{Sidecars: SidecarBoth, MTLS: true}, ""},
		{"mtls one side", Spec{Sidecars: SidecarServer, MTLS: true}, "mTLS needs"},
		{"bad prefix", Spec{Prefix: "Has_Upper"}, "prefix"},
		{"long prefix", Spec{Prefix: "abcdefghijklm"}, "prefix"},
		{"bad mode", Spec{Mode: "udp"}, "mode"},
		{"bad sidecars", Spec{Sidecars: 8}, "sidecars"},
		{"excluded app port", Spec{AppPort: 8080, ExcludeInboundPorts: []int{8080}}, "also excluded"},
		{"bad excluded port", Spec{ExcludeOutboundPorts: []int{70000}}, "out of range"},
		{"ipv6 subnet", Spec{Subnet: netip.MustParsePrefix("fd00::/64")}, "IPv4"},
		{"threads", Spec{ProxyThreads: 100}, "threads"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.spec.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			err = s.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSpecDefaults(t *testing.T) {
	s, err := Spec{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Prefix, "mi-") || len(s.Prefix) != 9 {
		t.Errorf("prefix %q, want mi-<6 hex>", s.Prefix)
	}
	if s.addr(Client) != netip.MustParseAddr("10.213.0.1") || s.addr(Server) != netip.MustParseAddr("10.213.0.2") {
		t.Errorf("addresses %s, %s", s.addr(Client), s.addr(Server))
	}
	if s.netnsName(Server) != s.Prefix+"-server" {
		t.Errorf("netns name %q", s.netnsName(Server))
	}
	if s.MaxConn == 0 || s.ProxyThreads != 1 || s.Mode != ModeHTTP || s.Proxy == nil {
		t.Errorf("defaults not filled: %+v", s)
	}
	if !SidecarBoth.Has(Client) || !SidecarBoth.Has(Server) || SidecarClient.Has(Server) || SidecarNone.Has(Client) {
		t.Error("Sidecars.Has is wrong")
	}
}

func TestMeshCerts(t *testing.T) {
	dir := t.TempDir()
	files, err := writeMeshCerts(dir, Pods, -1)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(files[Client].CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA file holds no certificate")
	}
	for _, p := range Pods {
		f := files[p]
		pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			t.Fatalf("%s key pair: %v", p, err)
		}
		if _, err := tls.LoadX509KeyPair(f.CertKey, f.CertKey); err != nil {
			t.Fatalf("%s combined PEM: %v", p, err)
		}
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := leaf.Verify(x509.VerifyOptions{DNSName: identity(p), Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("%s certificate for usage %v: %v", p, usage, err)
			}
		}
		if f.PeerName != identity(Server) {
			t.Errorf("%s peer name %q", p, f.PeerName)
		}
		info, err := os.Stat(f.Key)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s key mode %v, want 0600", p, info.Mode().Perm())
		}
	}
}

func TestListensOn(t *testing.T) {
	table := []byte(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:3A9E 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1337        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0200D50A:9C40 01 00000000:00000000 00:00000000 00000000 65534        0 2 1 0000000000000000 20 4 30 10 -1
`)
	tests := map[int]bool{15006: true, 8080: false, 15001: false}
	for port, want := range tests {
		if got := listensOn(table, port); got != want {
			t.Errorf("listensOn(%d) = %v, want %v", port, got, want)
		}
	}
}
