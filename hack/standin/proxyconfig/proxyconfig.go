// Package proxyconfig is the contract between the stand-in istiod and its
// pilot-agent: the configuration of one sidecar (what Envoy would receive over
// xDS), and its rendering into haproxy's configuration language.
package proxyconfig

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
)

// Ports of the sidecar, as Istio's.
const (
	// OutboundPort receives every outbound TCP connection (istio-iptables -p).
	OutboundPort = 15001
	// InboundPort receives every inbound TCP connection (istio-iptables -z).
	InboundPort = 15006
	// ReadinessPort serves /healthz/ready (pilot-agent).
	ReadinessPort = 15021
	// ProxyUID is the uid the proxy runs as; its own traffic is not redirected.
	ProxyUID = 1337
	// innerTLSPort is where inbound mTLS connections are terminated, on
	// loopback, after the inbound listener has seen a TLS ClientHello.
	innerTLSPort = 15106
)

// Protocol is how the proxy handles a port.
type Protocol string

// Protocols the stand-in proxies. Istio's http2 and grpc ports are proxied
// as TCP: haproxy here parses HTTP/1.1 only.
const (
	HTTP Protocol = "http"
	TCP  Protocol = "tcp"
)

// Config is one sidecar's configuration.
type Config struct {
	// Inbound are the pod's own ports that Services expose, with their
	// protocol; other inbound ports are proxied as TCP.
	Inbound []AppPort `json:"inbound,omitempty"`
	// StrictMTLS refuses plaintext inbound connections (PeerAuthentication
	// STRICT); otherwise both are accepted (PERMISSIVE).
	StrictMTLS bool `json:"strictMTLS,omitempty"`
	// Outbound are the Service ports the workload may call.
	Outbound []Service `json:"outbound,omitempty"`
	// Threads is the number of worker threads (Istio's proxy concurrency:
	// 2 by default).
	Threads int `json:"threads"`
}

// AppPort is a port of the pod that a Service targets.
type AppPort struct {
	Port     int      `json:"port"`
	Protocol Protocol `json:"protocol"`
}

// Service is one Service port as the client's proxy sees it.
type Service struct {
	// Name is namespace/name:port, for comments and backend names.
	Name     string         `json:"name"`
	VIP      netip.AddrPort `json:"vip"`
	Protocol Protocol       `json:"protocol"`
	// Endpoints are the ready endpoints, each with whether to originate
	// mTLS to it (auto mTLS: the endpoint runs a sidecar and no
	// DestinationRule disables TLS).
	Endpoints []Endpoint `json:"endpoints"`
}

// Endpoint is one ready backend of a Service port.
type Endpoint struct {
	Addr netip.AddrPort `json:"addr"`
	MTLS bool           `json:"mtls"`
	// Identity is the SPIFFE identity the peer's certificate must carry
	// when MTLS is set.
	Identity string `json:"identity,omitempty"`
}

// Version is a digest of the configuration: the pilot-agent applies a
// configuration only when its version changes.
func (c Config) Version() string {
	b, _ := json.Marshal(c) // plain data: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Normalize sorts the configuration so that equal configurations render
// (and hash) equally.
func (c *Config) Normalize() {
	slices.SortFunc(c.Inbound, func(a, b AppPort) int { return a.Port - b.Port })
	c.Inbound = slices.Compact(c.Inbound)
	slices.SortFunc(c.Outbound, func(a, b Service) int { return a.VIP.Compare(b.VIP) })
	for i := range c.Outbound {
		slices.SortFunc(c.Outbound[i].Endpoints, func(a, b Endpoint) int { return a.Addr.Compare(b.Addr) })
	}
}

// Files are the paths the rendered configuration refers to.
type Files struct {
	// CertKey is the proxy's certificate chain followed by its key.
	CertKey string
	// CA is the mesh's root certificate.
	CA string
}

// FilesIn returns the conventional file names under dir.
func FilesIn(dir string) Files {
	return Files{CertKey: filepath.Join(dir, "cert-key.pem"), CA: filepath.Join(dir, "root-cert.pem")}
}

// HAProxy renders the configuration for haproxy 2.6.
//
// Like Envoy's listeners in Istio, the outbound listener (15001) matches
// each connection's original destination (SO_ORIGINAL_DST, which haproxy
// reads on REDIRECTed connections) against the Service VIPs and forwards
// to that Service's endpoints, parsing HTTP on HTTP ports and originating
// mTLS to endpoints with sidecars; anything else passes through to its
// original destination. The inbound listener (15006) inspects the first
// bytes: a TLS ClientHello is terminated with mutual verification on an
// inner loopback listener (reached with the PROXY protocol, which carries
// the original destination along), plaintext is accepted unless STRICT;
// both are forwarded to the application on 127.0.0.1 at the original
// destination port, with HTTP parsed on the ports Services declare HTTP.
func (c Config) HAProxy(f Files) []byte {
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	threads := max(c.Threads, 1)
	w("# stand-in sidecar configuration %s (rendered by the stand-in pilot-agent)", c.Version())
	w("global")
	w("    nbthread %d", threads)
	w("    maxconn 8192")
	w("")
	w("defaults")
	w("    timeout connect 10s")
	// Envoy's defaults in Istio: no request timeout, 1 h idle timeout.
	w("    timeout client 1h")
	w("    timeout server 1h")
	w("    timeout tunnel 1h")
	w("")
	c.outbound(w, f)
	c.inbound(w, f)
	return b.Bytes()
}

func (c Config) outbound(w func(string, ...any), f Files) {
	w("frontend outbound")
	w("    mode tcp")
	w("    bind 0.0.0.0:%d", OutboundPort)
	// A connection made to 15001 itself has no other original destination.
	w("    tcp-request connection reject if { dst_port %d }", OutboundPort)
	for _, s := range c.Outbound {
		w("    use_backend %s if { dst %s } { dst_port %d }", backendName(s), s.VIP.Addr(), s.VIP.Port())
	}
	w("    default_backend passthrough")
	w("")
	w("backend passthrough")
	w("    mode tcp")
	w("    # 0.0.0.0 and no port: the original destination")
	w("    server original 0.0.0.0")
	for _, s := range c.Outbound {
		w("")
		w("# %s (%s)", s.Name, s.VIP)
		w("backend %s", backendName(s))
		w("    mode %s", modeOf(s.Protocol))
		w("    balance roundrobin")
		if s.Protocol == HTTP {
			w("    http-reuse safe")
		}
		if len(s.Endpoints) == 0 {
			w("    # no ready endpoints")
		}
		for i, e := range s.Endpoints {
			line := fmt.Sprintf("    server ep%d %s", i, e.Addr)
			if e.MTLS {
				line += fmt.Sprintf(" ssl crt %s ca-file %s verify required", f.CertKey, f.CA)
			}
			w("%s", line)
		}
	}
	w("")
}

func (c Config) inbound(w func(string, ...any), f Files) {
	var httpPorts []string
	for _, p := range c.Inbound {
		if p.Protocol == HTTP {
			httpPorts = append(httpPorts, fmt.Sprint(p.Port))
		}
	}
	route := func() {
		if len(httpPorts) > 0 {
			w("    use_backend inbound_http if { dst_port %s }", strings.Join(httpPorts, " "))
		}
		w("    default_backend inbound_tcp")
	}
	w("frontend inbound")
	w("    mode tcp")
	w("    bind 0.0.0.0:%d", InboundPort)
	w("    tcp-request connection reject if { dst_port %d }", InboundPort)
	// Envoy's TLS inspector: wait for the first bytes to tell TLS from
	// plaintext.
	w("    tcp-request inspect-delay 5s")
	w("    tcp-request content accept if { req.ssl_hello_type 1 }")
	if c.StrictMTLS {
		w("    tcp-request content reject if { req.len gt 0 }")
	} else {
		w("    tcp-request content accept if { req.len gt 0 }")
	}
	w("    use_backend inbound_tls if { req.ssl_hello_type 1 }")
	route()
	w("")
	w("backend inbound_tls")
	w("    mode tcp")
	w("    server terminate 127.0.0.1:%d send-proxy-v2", innerTLSPort)
	w("")
	w("frontend inbound_mtls")
	w("    mode tcp")
	w("    bind 127.0.0.1:%d accept-proxy ssl crt %s ca-file %s verify required", innerTLSPort, f.CertKey, f.CA)
	route()
	w("")
	w("backend inbound_http")
	w("    mode http")
	w("    # no port: the original destination port")
	w("    server app 127.0.0.1")
	w("")
	w("backend inbound_tcp")
	w("    mode tcp")
	w("    server app 127.0.0.1")
}

func modeOf(p Protocol) string {
	if p == HTTP {
		return "http"
	}
	return "tcp"
}

// backendName is a haproxy-safe, unique name for a Service port.
func backendName(s Service) string {
	return fmt.Sprintf("out_%s_%d", strings.NewReplacer(".", "_", ":", "_").Replace(s.VIP.Addr().String()), s.VIP.Port())
}
