package datapath

import (
	"net/netip"
	"strings"
	"testing"
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
