package datapath

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func chainTestSpec() ChainSpec {
	return ChainSpec{
		Prefix: "mc-test",
		Pods:   []ChainPod{{Name: "client", Sidecar: true}, {Name: "front", Sidecar: true}, {Name: "cache", Sidecar: true}, {Name: "plain"}},
		Edges: []ChainEdge{
			{From: "client", To: "front", Mode: ModeHTTP, MTLS: true},
			{From: "front", To: "cache", Mode: ModeTCP},
			{From: "front", To: "plain", Mode: ModeHTTP},
		},
		ExcludePorts: []int{9090},
	}
}

func TestChainSpecValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*ChainSpec)
		want   string // substring of the error; empty for valid
	}{
		{"valid", func(*ChainSpec) {}, ""},
		{"bad prefix", func(s *ChainSpec) { s.Prefix = "Has_Upper" }, "prefix"},
		{"one pod", func(s *ChainSpec) { s.Pods = s.Pods[:1]; s.Edges = nil }, "at least 2"},
		{"bad pod name", func(s *ChainSpec) { s.Pods[0].Name = "Client" }, `pod "Client"`},
		{"hub", func(s *ChainSpec) { s.Pods[3].Name = "hub"; s.Edges = s.Edges[:2] }, "bridge namespace"},
		{"duplicate pod", func(s *ChainSpec) { s.Pods[3].Name = "cache"; s.Edges = s.Edges[:2] }, "listed twice"},
		{"unknown pod", func(s *ChainSpec) { s.Edges[1].To = "db" }, "both ends"},
		{"self call", func(s *ChainSpec) { s.Edges[1].To = "front" }, "cannot call itself"},
		{"duplicate edge", func(s *ChainSpec) { s.Edges = append(s.Edges, s.Edges[0]) }, "listed twice"},
		{"bad mode", func(s *ChainSpec) { s.Edges[0].Mode = "grpc" }, `mode "grpc"`},
		{"mtls without sidecar", func(s *ChainSpec) { s.Edges[2].MTLS = true }, "mTLS needs a sidecar"},
		{"inbound disagreement", func(s *ChainSpec) {
			s.Edges = append(s.Edges, ChainEdge{From: "client", To: "cache", Mode: ModeHTTP})
		}, "same mode and mTLS"},
		{"own port excluded", func(s *ChainSpec) { s.ExcludePorts = []int{15006} }, "proxy's own ports"},
		{"subnet too small", func(s *ChainSpec) { s.Subnet = netip.MustParsePrefix("10.1.0.0/30") }, "room for 2 pods"},
		{"tuned", func(s *ChainSpec) { s.Proxy = tunedHAProxy(); s.ProxyThreads = 2 }, ""},
		{"bad reuse", func(s *ChainSpec) { s.Proxy.HTTPReuse = "sometimes" }, `http-reuse "sometimes"`},
		{"negative timeout", func(s *ChainSpec) { s.Proxy.Timeouts.Server = -time.Second }, "server timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := chainTestSpec()
			s.Pods = append([]ChainPod(nil), s.Pods...)
			s.Edges = append([]ChainEdge(nil), s.Edges...)
			tt.modify(&s)
			s, err := s.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			err = s.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestChainDefaultsAndAddresses(t *testing.T) {
	s, err := ChainSpec{Pods: []ChainPod{{Name: "a"}, {Name: "b"}}, Edges: []ChainEdge{{From: "a", To: "b"}}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Prefix, "mc-") || s.Subnet != DefaultChainSubnet || s.Edges[0].Mode != ModeHTTP || s.MaxConn != 4096 || s.ProxyThreads != 1 {
		t.Errorf("defaults: %+v", s)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := s.addr(0).String(); got != "10.214.0.1" {
		t.Errorf("pod 0 at %s, want 10.214.0.1", got)
	}
	if got := s.addr(s.podIndex("b")).String(); got != "10.214.0.2" {
		t.Errorf("pod b at %s, want 10.214.0.2", got)
	}
	if s.netnsName(hubName) != s.Prefix+"-hub" {
		t.Errorf("hub namespace %q", s.netnsName(hubName))
	}
}

func TestChainHAProxyGolden(t *testing.T) {
	s, err := chainTestSpec().withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	certs := map[Pod]*TLSFiles{}
	for _, p := range []string{"client", "front", "cache"} {
		certs[Pod(p)] = &TLSFiles{CA: "/d/ca.pem", Cert: "/d/" + p + "-cert.pem", Key: "/d/" + p + "-key.pem",
			CertKey: "/d/" + p + "-certkey.pem", PeerName: "server.meshinsight.local"}
	}
	for _, pod := range []string{"client", "front", "cache"} {
		t.Run(pod, func(t *testing.T) {
			conf := chainHAProxyConfig(s.proxyConfig(pod, "/d/"+pod+"/admin.sock", certs))
			golden(t, "chain-haproxy-"+pod+".golden", conf)
		})
	}
	// The per-edge TLS peer is the callee, not the two-pod "server".
	client := string(chainHAProxyConfig(s.proxyConfig("client", "", certs)))
	if !strings.Contains(client, "verifyhost front.meshinsight.local sni str(front.meshinsight.local)") {
		t.Errorf("client's route to front does not verify front's identity:\n%s", client)
	}
	front := string(chainHAProxyConfig(s.proxyConfig("front", "", certs)))
	for _, want := range []string{
		"frontend inbound\n    mode http\n    bind 0.0.0.0:15006 ssl crt /d/front-certkey.pem",
		"use_backend to_cache if { dst 10.214.0.3 }",
		"backend to_cache\n    mode tcp\n",
		"backend to_plain\n    mode http\n",
		"    server plain 10.214.0.4\n",
	} {
		if !strings.Contains(front, want) {
			t.Errorf("front's config lacks %q:\n%s", want, front)
		}
	}
}

// tunedHAProxy is a sidecar tuned unlike the agent's.
func tunedHAProxy() HAProxy {
	return HAProxy{HTTPReuse: "always", Timeouts: HAProxyTimeouts{Connect: 1500 * time.Millisecond, Client: 30 * time.Second, Server: 30 * time.Second}}
}

// TestChainHAProxyTuned checks that a chain's tuning reaches every sidecar:
// threads, connection cap, timeouts, and the reuse policy on every HTTP
// backend (inbound and outbound) but none of the TCP ones.
func TestChainHAProxyTuned(t *testing.T) {
	spec := chainTestSpec()
	spec.Proxy, spec.ProxyThreads, spec.MaxConn = tunedHAProxy(), 2, 1024
	s, err := spec.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	conf := chainHAProxyConfig(s.proxyConfig("front", "/d/front/admin.sock", map[Pod]*TLSFiles{
		"front": {CA: "/d/ca.pem", Cert: "/d/front-cert.pem", Key: "/d/front-key.pem", CertKey: "/d/front-certkey.pem"},
	}))
	golden(t, "chain-haproxy-front-tuned.golden", conf)
	text := string(conf)
	for _, want := range []string{"nbthread 2\n", "maxconn 1024\n", "timeout connect 1500ms\n", "timeout client 30s\n", "timeout server 30s\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("tuned config lacks %q:\n%s", want, text)
		}
	}
	// front's HTTP backends: inbound and to_plain; to_cache is TCP.
	if n := strings.Count(text, "http-reuse always"); n != 2 {
		t.Errorf("%d http-reuse lines, want 2 (the HTTP backends):\n%s", n, text)
	}
	cache := text[strings.Index(text, "backend to_cache"):strings.Index(text, "backend to_plain")]
	if strings.Contains(cache, "http-reuse") {
		t.Errorf("the TCP backend got a reuse policy:\n%s", cache)
	}
}

func TestHAProxyConfigTuned(t *testing.T) {
	c := ProxyConfig{Pod: Client, Mode: ModeHTTP, InboundPort: 15006, OutboundPort: 15001, MaxConn: 64, Threads: 1, Dir: "/d"}
	conf, err := tunedHAProxy().Config(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), "http-reuse always") || !strings.Contains(string(conf), "timeout server 30s") {
		t.Errorf("the two-pod sidecar ignores the tuning:\n%s", conf)
	}
	if _, err := (HAProxy{HTTPReuse: "sometimes"}).Config(c); err == nil {
		t.Error("an unknown reuse policy was accepted")
	}
}
