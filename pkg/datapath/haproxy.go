package datapath

import (
	"bytes"
	"fmt"
)

// haproxyConfig writes one haproxy.cfg line by line. The two-pod
// datapath's sidecar (HAProxy.Config) and a chain's (chainHAProxyConfig)
// share its sections.
type haproxyConfig struct{ bytes.Buffer }

func (b *haproxyConfig) line(format string, a ...any) { fmt.Fprintf(&b.Buffer, format+"\n", a...) }

// preamble writes the global and defaults sections: connection cap, worker
// threads, the admin socket (when set), the default mode and timeouts.
func (b *haproxyConfig) preamble(maxConn, threads int, adminSocket string, mode Mode) {
	b.line("global")
	b.line("    maxconn %d", maxConn)
	b.line("    nbthread %d", threads)
	if adminSocket != "" {
		b.line("    stats socket %s mode 600 level user", adminSocket)
	}
	b.line("")
	b.line("defaults")
	b.line("    mode %s", mode)
	b.line("    maxconn %d", maxConn)
	b.line("    timeout connect 5s")
	b.line("    timeout client 60s")
	b.line("    timeout server 60s")
}

// inbound writes pod's inbound listener on InboundPort, terminating mTLS
// when tls is set, and its backend: the app on the loopback, at the
// connection's original destination port. modeLine names the mode in both
// sections (needed where it differs from the defaults).
func (b *haproxyConfig) inbound(pod string, mode Mode, tls *TLSFiles, modeLine bool) {
	b.line("")
	b.line("frontend inbound")
	if modeLine {
		b.line("    mode %s", mode)
	}
	if tls != nil {
		b.line("    bind 0.0.0.0:%d ssl crt %s ca-file %s verify required", InboundPort, tls.CertKey, tls.CA)
	} else {
		b.line("    bind 0.0.0.0:%d", InboundPort)
	}
	b.line("    default_backend inbound")
	b.line("")
	b.line("backend inbound")
	if modeLine {
		b.line("    mode %s", mode)
	}
	b.via(pod+"-inbound", mode)
	b.line("    # no port: the original destination port (SO_ORIGINAL_DST)")
	b.line("    server app 127.0.0.1")
}

// via marks HTTP responses with the proxy crossed (ViaHeader).
func (b *haproxyConfig) via(proxy string, mode Mode) {
	if mode == ModeHTTP {
		b.line("    http-response add-header %s %s", ViaHeader, proxy)
	}
}

// upstreamTLS is a server line's mTLS origination: the client certificate,
// the mesh CA, and the peer's identity required and sent as SNI.
func upstreamTLS(tls *TLSFiles) string {
	return fmt.Sprintf(" ssl crt %s ca-file %s verify required verifyhost %s sni str(%s)", tls.CertKey, tls.CA, tls.PeerName, tls.PeerName)
}
