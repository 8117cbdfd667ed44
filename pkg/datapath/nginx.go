package datapath

import (
	"bytes"
	"fmt"
	"path/filepath"
)

// nginxConfig writes one nginx.conf (NGINX.Config) line by line.
type nginxConfig struct {
	bytes.Buffer
	c ProxyConfig
	// ssl is " ssl" on the inbound listen line with mTLS, else "".
	ssl string
	// inboundTLS and outboundTLS are the mTLS directives: terminating
	// inbound, originating outbound; none without mTLS.
	inboundTLS, outboundTLS [][2]string
}

func newNGINXConfig(c ProxyConfig) *nginxConfig {
	b := &nginxConfig{c: c}
	if c.TLS != nil {
		b.ssl = " ssl"
		b.inboundTLS = [][2]string{{"ssl_certificate", c.TLS.Cert}, {"ssl_certificate_key", c.TLS.Key},
			{"ssl_client_certificate", c.TLS.CA}, {"ssl_verify_client", "on"}}
		b.outboundTLS = [][2]string{{"proxy_ssl_certificate", c.TLS.Cert}, {"proxy_ssl_certificate_key", c.TLS.Key},
			{"proxy_ssl_trusted_certificate", c.TLS.CA}, {"proxy_ssl_verify", "on"},
			{"proxy_ssl_name", c.TLS.PeerName}, {"proxy_ssl_server_name", "on"}}
	}
	return b
}

func (b *nginxConfig) line(format string, a ...any) { fmt.Fprintf(&b.Buffer, format+"\n", a...) }

func (b *nginxConfig) directives(indent string, ds [][2]string) {
	for _, d := range ds {
		b.line("%s%s %s;", indent, d[0], d[1])
	}
}

// stream writes TCP mode: the stream module forwarding inbound to AppPort
// and outbound to Upstream.
func (b *nginxConfig) stream() {
	c := b.c
	b.line("stream {")
	b.line("    server {")
	b.line("        listen %d%s;", c.InboundPort, b.ssl)
	b.directives("        ", b.inboundTLS)
	b.line("        proxy_pass 127.0.0.1:%d;", c.AppPort)
	b.line("    }")
	b.line("    server {")
	b.line("        listen %d;", c.OutboundPort)
	if c.TLS != nil {
		b.line("        proxy_ssl on;")
	}
	b.directives("        ", b.outboundTLS)
	b.line("        proxy_pass %s;", c.Upstream)
	b.line("    }")
	b.line("}")
}

// http writes HTTP mode: keep-alive upstreams for the app and the
// destination, each response marked with the proxy crossed (ViaHeader).
func (b *nginxConfig) http() {
	c := b.c
	b.line("http {")
	b.line("    access_log off;")
	for _, t := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		b.line("    %s_temp_path %s;", t, filepath.Join(c.Dir, t))
	}
	b.line("    upstream inbound_app {")
	b.line("        server 127.0.0.1:%d;", c.AppPort)
	b.line("        keepalive 64;")
	b.line("    }")
	b.line("    upstream outbound_dst {")
	b.line("        server %s;", c.Upstream)
	b.line("        keepalive 64;")
	b.line("    }")
	b.line("    server {")
	b.line("        listen %d%s;", c.InboundPort, b.ssl)
	b.directives("        ", b.inboundTLS)
	b.line("        location / {")
	b.line("            proxy_pass http://inbound_app;")
	b.line("            proxy_http_version 1.1;")
	b.line("            proxy_set_header Connection \"\";")
	b.line("            add_header %s %s-inbound always;", ViaHeader, c.Pod)
	b.line("        }")
	b.line("    }")
	b.line("    server {")
	b.line("        listen %d;", c.OutboundPort)
	b.line("        location / {")
	scheme := "http"
	if c.TLS != nil {
		scheme = "https"
	}
	b.line("            proxy_pass %s://outbound_dst;", scheme)
	b.line("            proxy_http_version 1.1;")
	b.line("            proxy_set_header Connection \"\";")
	b.line("            proxy_set_header Host $host;")
	b.directives("            ", b.outboundTLS)
	b.line("            add_header %s %s-outbound always;", ViaHeader, c.Pod)
	b.line("        }")
	b.line("    }")
	b.line("}")
}
