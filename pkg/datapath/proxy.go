package datapath

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
)

// Proxy is a kind of sidecar proxy: it renders its configuration for one pod
// and says how to run it. Adding Envoy, or any other program, is a new
// implementation of this interface.
type Proxy interface {
	// Name is a short name for logs and file names, such as "haproxy".
	Name() string
	// Config renders the proxy's configuration file for one pod.
	Config(cfg ProxyConfig) ([]byte, error)
	// Command returns the argv that runs the proxy in the foreground, as a
	// single process, with the configuration at configPath.
	Command(configPath string) []string
}

// ProxyConfig is what a Proxy needs to know to configure one sidecar.
type ProxyConfig struct {
	// Pod is the pod the sidecar runs in.
	Pod Pod
	// Mode is the protocol to proxy.
	Mode Mode
	// InboundPort is the port the nat rules redirect inbound TCP to; the
	// inbound listener forwards to 127.0.0.1 on the connection's original
	// destination port (or AppPort, see below).
	InboundPort int
	// OutboundPort is the port the nat rules redirect outbound TCP to; the
	// outbound listener forwards to the connection's original destination
	// (or Upstream, see below).
	OutboundPort int
	// AppPort and Upstream are the fixed targets for proxies that cannot
	// read a connection's original destination (SO_ORIGINAL_DST): the
	// server app's meshed port and the server pod's address on it.
	AppPort  int
	Upstream netip.AddrPort
	// MaxConn caps concurrent connections.
	MaxConn int
	// Threads is the number of worker threads.
	Threads int
	// Dir is a directory owned by the proxy's uid for its sockets, pid file
	// and temporary files.
	Dir string
	// AdminSocket is a Unix socket path for the proxy's admin/stats
	// interface, inside Dir; empty for none.
	AdminSocket string
	// TLS holds the sidecar's certificates when mTLS is on; nil otherwise.
	TLS *TLSFiles
	// Upstreams adds upstream services to the outbound side, as a mesh's
	// configuration does, for memory measurements; zero adds none.
	Upstreams Upstreams
}

// TLSFiles are one sidecar's mTLS credentials, as PEM files.
type TLSFiles struct {
	// CA is the mesh root certificate that every peer is verified against.
	CA string
	// Cert and Key are the sidecar's own certificate and private key.
	Cert string
	Key  string
	// CertKey holds Cert followed by Key (HAProxy's crt format).
	CertKey string
	// PeerName is the DNS name the outbound side requires in the server's
	// certificate and sends as SNI.
	PeerName string
}

// HAProxy runs Debian's haproxy (2.6 tested) as the sidecar.
//
// Original destinations: haproxy built with TPROXY support (Debian's is)
// reads SO_ORIGINAL_DST on accepted IPv4 connections, so a server line
// without a port forwards to the port the client originally dialled, and the
// address 0.0.0.0 means the original destination address. The inbound
// listener can therefore serve every meshed port with one "server app
// 127.0.0.1" and the outbound listener every destination with one "server
// dst 0.0.0.0", exactly as Envoy's original-destination clusters do, instead
// of one listener (and one REDIRECT rule) per port. A connection made to
// 15001 or 15006 directly has no original destination but the listener
// itself; it is rejected, as Envoy does, instead of looping until maxconn.
//
// The zero value is the agent's configuration; HTTPReuse and Timeouts tune
// a sidecar unlike it (a validation chain the profile did not shape).
type HAProxy struct {
	// Binary is the haproxy executable; empty means "haproxy" on $PATH.
	Binary string
	// HTTPReuse is the http-reuse policy of every HTTP-mode backend (one of
	// HTTPReusePolicies); empty leaves haproxy's default, safe.
	HTTPReuse string
	// Timeouts are the proxied connections' timeouts.
	Timeouts HAProxyTimeouts
}

// Name implements Proxy.
func (HAProxy) Name() string { return "haproxy" }

// Command implements Proxy: -db keeps haproxy in the foreground as one
// process, so its PID is the proxy.
func (h HAProxy) Command(configPath string) []string {
	return []string{cmp.Or(h.Binary, "haproxy"), "-db", "-f", configPath}
}

// Config implements Proxy.
func (h HAProxy) Config(c ProxyConfig) ([]byte, error) {
	if err := errors.Join(c.check(), h.check()); err != nil {
		return nil, err
	}
	b := haproxyConfig{proxy: h}
	b.line("# meshinsight datapath: %s sidecar, %s mode, mTLS %s", c.Pod, c.Mode, onOff(c.TLS != nil))
	b.preamble(c.MaxConn, c.Threads, c.AdminSocket, c.Mode)
	b.inbound(string(c.Pod), c.Mode, c.TLS, false)
	b.line("")
	b.line("frontend outbound")
	b.line("    bind 0.0.0.0:%d", c.OutboundPort)
	b.line("    tcp-request connection reject if { dst_port %d }", c.OutboundPort)
	b.routes(c.Upstreams, c.Mode)
	b.line("    default_backend outbound")
	b.line("")
	b.line("backend outbound")
	b.httpBackend(string(c.Pod)+"-outbound", c.Mode)
	b.line("    # 0.0.0.0 and no port: the original destination (SO_ORIGINAL_DST)")
	if c.TLS != nil {
		b.line("    server dst 0.0.0.0%s", upstreamTLS(c.TLS))
	} else {
		b.line("    server dst 0.0.0.0")
	}
	b.upstreams(c.Upstreams)
	return b.Bytes(), nil
}

// NGINX runs Debian's nginx (1.22 tested) as the sidecar, with the stream
// module in TCP mode and the http module in HTTP mode. nginx cannot read a
// connection's original destination, so its inbound listener forwards to
// AppPort and its outbound listener to Upstream: use it with one meshed port.
type NGINX struct {
	// Binary is the nginx executable; empty means "nginx" on $PATH.
	Binary string
	// StreamModule is the dynamic module TCP mode loads; empty means
	// Debian's /usr/lib/nginx/modules/ngx_stream_module.so (package
	// libnginx-mod-stream).
	StreamModule string
}

// Name implements Proxy.
func (NGINX) Name() string { return "nginx" }

// Command implements Proxy. The configuration sets "daemon off" and
// "master_process off", so nginx is one foreground process; -e stderr keeps
// it from opening the system's error log as an unprivileged user.
func (n NGINX) Command(configPath string) []string {
	return []string{cmp.Or(n.Binary, "nginx"), "-e", "stderr", "-p", filepath.Dir(configPath), "-c", configPath}
}

// Config implements Proxy.
func (n NGINX) Config(c ProxyConfig) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.Threads != 1 {
		return nil, fmt.Errorf("nginx sidecar: %d threads requested, but it runs as one single-threaded process", c.Threads)
	}
	if c.AppPort == 0 || !c.Upstream.IsValid() {
		return nil, errors.New("nginx sidecar: needs AppPort and Upstream (it cannot read original destinations)")
	}
	if c.Upstreams.Services > 0 {
		return nil, errors.New("nginx sidecar: upstream services are not rendered for nginx (measure memory with haproxy)")
	}
	b := newNGINXConfig(c)
	b.line("# meshinsight datapath: %s sidecar, %s mode, mTLS %s", c.Pod, c.Mode, onOff(c.TLS != nil))
	if c.Mode == ModeTCP {
		b.line("load_module %s;", cmp.Or(n.StreamModule, "/usr/lib/nginx/modules/ngx_stream_module.so"))
	}
	b.line("daemon off;")
	b.line("master_process off;")
	b.line("pid %s;", filepath.Join(c.Dir, "nginx.pid"))
	b.line("error_log stderr warn;")
	b.line("events {")
	b.line("    worker_connections %d;", c.MaxConn)
	b.line("}")
	if c.Mode == ModeTCP {
		b.stream()
	} else {
		b.http()
	}
	return b.Bytes(), nil
}

// check validates the fields every proxy kind relies on.
func (c ProxyConfig) check() error {
	var errs []error
	if c.Pod != Client && c.Pod != Server {
		errs = append(errs, fmt.Errorf("pod %q: want %q or %q", c.Pod, Client, Server))
	}
	if c.Mode != ModeTCP && c.Mode != ModeHTTP {
		errs = append(errs, fmt.Errorf("mode %q: want %q or %q", c.Mode, ModeTCP, ModeHTTP))
	}
	if c.InboundPort <= 0 || c.OutboundPort <= 0 {
		errs = append(errs, errors.New("inbound and outbound ports must be set"))
	}
	if c.MaxConn < 1 {
		errs = append(errs, errors.New("maxconn must be set"))
	}
	if c.Threads < 1 {
		errs = append(errs, errors.New("threads must be at least 1"))
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("dir must be set"))
	}
	if c.TLS != nil && (c.TLS.CA == "" || c.TLS.Cert == "" || c.TLS.Key == "" || c.TLS.CertKey == "" || c.TLS.PeerName == "") {
		errs = append(errs, errors.New("TLS needs CA, Cert, Key, CertKey and PeerName"))
	}
	if err := c.Upstreams.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("proxy config: %w", err)
	}
	return nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
