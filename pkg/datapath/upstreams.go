package datapath

import (
	"errors"
	"fmt"
	"net/netip"
)

// Upstreams are upstream services added to a sidecar's configuration, the
// way a mesh's control plane configures every Service the sidecar sees:
// one backend (Envoy: cluster) per service with EndpointsPerService
// servers (Envoy: hosts), and in HTTP mode one routing rule (Envoy: route)
// per service on the outbound listener. Nothing is sent to them: they
// exist to measure what configuration costs in memory.
type Upstreams struct {
	Services            int
	EndpointsPerService int
}

// maxUpstreamEndpoints bounds Services × EndpointsPerService: the
// addresses come from 198.18.0.0/15 (RFC 2544's benchmarking range).
const maxUpstreamEndpoints = 1 << 17

// Validate reports what is wrong with u.
func (u Upstreams) Validate() error {
	switch {
	case u.Services < 0 || u.EndpointsPerService < 0:
		return fmt.Errorf("upstreams %+v: counts must not be negative", u)
	case u.Services > 0 && u.EndpointsPerService < 1:
		return errors.New("upstreams: each service needs at least one endpoint")
	case u.Services*u.EndpointsPerService > maxUpstreamEndpoints:
		return fmt.Errorf("upstreams: %d endpoints, at most %d", u.Services*u.EndpointsPerService, maxUpstreamEndpoints)
	}
	return nil
}

// ConfigSize counts a sidecar configuration in Envoy's terms.
type ConfigSize struct {
	// Clusters are backends; Endpoints the servers in them.
	Clusters, Endpoints int
}

// ConfigSizeOf is the size of the configuration a Proxy renders for c:
// the inbound and the outbound backend of one server each, plus the
// upstream services.
func ConfigSizeOf(c ProxyConfig) ConfigSize {
	return ConfigSize{Clusters: 2 + c.Upstreams.Services, Endpoints: 2 + c.Upstreams.Services*c.Upstreams.EndpointsPerService}
}

// upstreamBase is the first upstream address.
var upstreamBase = netip.MustParseAddr("198.18.0.0")

// routes writes one routing rule per upstream service into the outbound
// frontend: by Host header, so HTTP mode only (in TCP mode the backends
// stand alone, as unused clusters do). No real request names these hosts.
func (b *haproxyConfig) routes(u Upstreams, mode Mode) {
	if mode != ModeHTTP {
		return
	}
	for i := range u.Services {
		b.line("    use_backend svc%d if { hdr(host) -i svc%d.meshinsight.local }", i, i)
	}
}

// upstreams writes one backend per upstream service, its servers at
// consecutive addresses of 198.18.0.0/15.
func (b *haproxyConfig) upstreams(u Upstreams) {
	a := upstreamBase.As4()
	next := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	for i := range u.Services {
		b.line("")
		b.line("backend svc%d", i)
		for j := range u.EndpointsPerService {
			next++
			addr := netip.AddrFrom4([4]byte{byte(next >> 24), byte(next >> 16), byte(next >> 8), byte(next)})
			b.line("    server e%d %s:8080", j, addr)
		}
	}
}
