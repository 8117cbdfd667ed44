package datapath

import (
	"strings"
	"testing"
)

// TestUpstreamsConfig: upstream services add a backend each with their
// servers, and in HTTP mode a route each on the outbound listener; the
// size counts them with the inbound and outbound backends.
func TestUpstreamsConfig(t *testing.T) {
	c := ProxyConfig{Pod: Client, Mode: ModeHTTP, InboundPort: 15006, OutboundPort: 15001, MaxConn: 100, Threads: 1, Dir: "/d",
		Upstreams: Upstreams{Services: 3, EndpointsPerService: 2}}
	got, err := HAProxy{}.Config(c)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "haproxy-http-client-upstreams.golden", got)
	s := string(got)
	if n := strings.Count(s, "\nbackend svc"); n != 3 {
		t.Errorf("%d upstream backends, want 3", n)
	}
	if n := strings.Count(s, "use_backend svc"); n != 3 {
		t.Errorf("%d routes, want 3", n)
	}
	if i, j := strings.Index(s, "use_backend svc2"), strings.Index(s, "default_backend outbound"); i < 0 || j < i {
		t.Errorf("routes must come before the outbound listener's default backend:\n%s", s)
	}
	if size := ConfigSizeOf(c); size != (ConfigSize{Clusters: 5, Endpoints: 8}) {
		t.Errorf("size %+v, want 5 clusters and 8 endpoints", size)
	}
	if size := ConfigSizeOf(ProxyConfig{}); size != (ConfigSize{Clusters: 2, Endpoints: 2}) {
		t.Errorf("the datapath's own size %+v, want 2 and 2", size)
	}
	tcp := c
	tcp.Mode = ModeTCP
	if got, err := (HAProxy{}).Config(tcp); err != nil || strings.Contains(string(got), "use_backend") || strings.Count(string(got), "server e1 ") != 3 {
		t.Errorf("tcp mode: %v\n%s", err, got)
	}
	for _, bad := range []Upstreams{{Services: 2}, {Services: -1, EndpointsPerService: 1}, {Services: 1 << 10, EndpointsPerService: 1 << 10}} {
		c.Upstreams = bad
		if _, err := (HAProxy{}).Config(c); err == nil {
			t.Errorf("upstreams %+v accepted", bad)
		}
	}
	c.Upstreams = Upstreams{Services: 1, EndpointsPerService: 1}
	c.AppPort = 8080
	if _, err := (NGINX{}).Config(c); err == nil {
		t.Error("nginx rendered upstream services")
	}
}
