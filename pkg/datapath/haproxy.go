package datapath

import (
	"bytes"
	"fmt"
	"slices"
	"time"
)

// HTTPReusePolicies are the values of haproxy's http-reuse: how a backend
// shares idle server connections between client connections.
var HTTPReusePolicies = []string{"never", "safe", "aggressive", "always"}

// HAProxyTimeouts are the connect, client and server timeouts of every
// proxied connection; a zero field means the agent's datapath's: 5 s,
// 60 s and 60 s.
type HAProxyTimeouts struct {
	Connect, Client, Server time.Duration
}

// haproxyConfig writes one haproxy.cfg line by line. The two-pod
// datapath's sidecar (HAProxy.Config) and a chain's (chainHAProxyConfig)
// share its sections.
type haproxyConfig struct {
	bytes.Buffer
	// proxy carries the tuning (reuse policy, timeouts).
	proxy HAProxy
}

func (b *haproxyConfig) line(format string, a ...any) { fmt.Fprintf(&b.Buffer, format+"\n", a...) }

// preamble writes the global and defaults sections: connection cap, worker
// threads, the admin socket (when set), the default mode and timeouts.
func (b *haproxyConfig) preamble(maxConn, threads int, adminSocket string, mode Mode) {
	t := b.proxy.Timeouts
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
	b.line("    timeout connect %s", haproxyTime(t.Connect, 5*time.Second))
	b.line("    timeout client %s", haproxyTime(t.Client, time.Minute))
	b.line("    timeout server %s", haproxyTime(t.Server, time.Minute))
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
	b.httpBackend(pod+"-inbound", mode)
	b.line("    # no port: the original destination port (SO_ORIGINAL_DST)")
	b.line("    server app 127.0.0.1")
}

// httpBackend writes what an HTTP-mode backend adds: the mark of the proxy
// crossed on responses (ViaHeader) and the reuse policy, when one is set.
func (b *haproxyConfig) httpBackend(proxy string, mode Mode) {
	if mode != ModeHTTP {
		return
	}
	b.line("    http-response add-header %s %s", ViaHeader, proxy)
	if b.proxy.HTTPReuse != "" {
		b.line("    http-reuse %s", b.proxy.HTTPReuse)
	}
}

// haproxyTime renders d in haproxy's time format (whole seconds, else
// milliseconds); zero means def.
func haproxyTime(d, def time.Duration) string {
	if d == 0 {
		d = def
	}
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// check reports what is wrong with h's tuning.
func (h HAProxy) check() error {
	if h.HTTPReuse != "" && !slices.Contains(HTTPReusePolicies, h.HTTPReuse) {
		return fmt.Errorf("haproxy http-reuse %q: want one of %v", h.HTTPReuse, HTTPReusePolicies)
	}
	for name, d := range map[string]time.Duration{"connect": h.Timeouts.Connect, "client": h.Timeouts.Client, "server": h.Timeouts.Server} {
		if d < 0 || (d > 0 && d < time.Millisecond) {
			return fmt.Errorf("haproxy %s timeout %v: want 0 (the default) or at least 1ms", name, d)
		}
	}
	return nil
}

// upstreamTLS is a server line's mTLS origination: the client certificate,
// the mesh CA, and the peer's identity required and sent as SNI.
func upstreamTLS(tls *TLSFiles) string {
	return fmt.Sprintf(" ssl crt %s ca-file %s verify required verifyhost %s sni str(%s)", tls.CertKey, tls.CA, tls.PeerName, tls.PeerName)
}
