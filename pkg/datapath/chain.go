package datapath

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
)

// DefaultChainSubnet holds the pod addresses of a chain: pod i of
// ChainSpec.Pods gets the (i+1)-th address. Like DefaultSubnet it is only
// ever assigned inside the chain's network namespaces, and it differs from
// DefaultSubnet so that a two-pod datapath and a chain read apart in traces.
var DefaultChainSubnet = netip.MustParsePrefix("10.214.0.0/24")

// hubName is the suffix of the chain's hub network namespace, which holds
// the bridge every pod's veth is plugged into. No pod may be called that.
const hubName = "hub"

// bridgeName is the Linux bridge inside the hub.
const bridgeName = "br0"

// ChainPod is one pod of a chain.
type ChainPod struct {
	// Name names the pod's network namespace (<prefix>-<name>), its
	// certificate identity (<name>.meshinsight.local) and its proxy's
	// files: 1-15 characters of [a-z0-9], starting with a letter.
	Name string
	// Sidecar runs an HAProxy sidecar (uid 1337) and installs
	// istio-init-style nat rules in the pod.
	Sidecar bool
}

// ChainEdge is a call from one pod of a chain to another, as the proxies
// see it. All edges into one pod must agree on Mode and MTLS, because a pod
// has one inbound listener (an Istio sidecar also serves one protocol per
// port and one mTLS mode per workload).
type ChainEdge struct {
	// From and To name pods of the chain.
	From, To string
	// Mode is the protocol the proxies handle on this edge; empty means
	// ModeHTTP.
	Mode Mode
	// MTLS makes From's outbound proxy originate TLS with a client
	// certificate and To's inbound proxy require it. Both pods need a
	// sidecar.
	MTLS bool
}

// Name renders the edge as "from->to", as call graphs do.
func (e ChainEdge) Name() string { return e.From + "->" + e.To }

// ChainSpec describes an N-pod sidecar datapath: a hub network namespace
// holding a Linux bridge, and one network namespace per pod joined to the
// bridge by a veth pair (the pod end named eth0), so every pod reaches every
// other on one L2 segment as pods on one node do. Each pod with a sidecar
// gets the same nat rules as a two-pod Datapath and an HAProxy whose
// outbound listener routes by original destination address to one backend
// per edge, with the edge's protocol and mTLS setting, the way Envoy's
// outbound listener picks a cluster per destination service.
type ChainSpec struct {
	// Prefix names everything the chain creates; empty means
	// "mc-<random>". At most 12 characters of [a-z0-9-].
	Prefix string
	// Subnet holds the pod addresses; zero means DefaultChainSubnet.
	Subnet netip.Prefix
	// Pods are the pods, in address order.
	Pods []ChainPod
	// Edges are the calls between pods that the sidecars route. Connections
	// to other destinations pass through the outbound proxy as plain TCP to
	// their original destination.
	Edges []ChainEdge
	// ExcludePorts are excluded from interception inbound and outbound in
	// every pod: the bypass, so that mesh and bypass traffic run on the same
	// pods and processes.
	ExcludePorts []int
	// Proxy is the sidecar, with its tuning. Only HAProxy is supported:
	// routing per original destination and handing a TCP-mode listener's
	// connection to an HTTP-mode backend need HAProxy (nginx cannot read
	// original destinations).
	Proxy HAProxy
	// MaxConn caps each proxy's concurrent connections; zero means 4096.
	MaxConn int
	// ProxyThreads is the number of worker threads per proxy; zero means 1.
	ProxyThreads int
}

var chainPodRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,14}$`)

// withDefaults returns s with every zero field filled in.
func (s ChainSpec) withDefaults() (ChainSpec, error) {
	if err := defaultNames(&s.Prefix, &s.Subnet, "mc-", DefaultChainSubnet); err != nil {
		return s, err
	}
	s.Edges = slices.Clone(s.Edges)
	for i := range s.Edges {
		if s.Edges[i].Mode == "" {
			s.Edges[i].Mode = ModeHTTP
		}
	}
	s.MaxConn, s.ProxyThreads = defaultLimits(s.MaxConn, s.ProxyThreads)
	return s, nil
}

// Validate reports what is wrong with a chain spec whose defaults are
// filled in. It does no I/O.
func (s ChainSpec) Validate() error {
	var errs []error
	if err := checkPrefix(s.Prefix); err != nil {
		errs = append(errs, err)
	}
	if !s.Subnet.Addr().Is4() {
		errs = append(errs, fmt.Errorf("subnet %s: want an IPv4 prefix", s.Subnet))
	} else if hosts := 1<<(32-s.Subnet.Bits()) - 2; len(s.Pods) > hosts {
		errs = append(errs, fmt.Errorf("subnet %s has room for %d pods, not %d", s.Subnet, hosts, len(s.Pods)))
	}
	if len(s.Pods) < 2 {
		errs = append(errs, fmt.Errorf("%d pods: a chain needs at least 2", len(s.Pods)))
	}
	pods := make(map[string]ChainPod, len(s.Pods))
	for _, p := range s.Pods {
		switch {
		case !chainPodRE.MatchString(p.Name):
			errs = append(errs, fmt.Errorf("pod %q: want 1-15 characters of [a-z0-9], starting with a letter", p.Name))
		case p.Name == hubName:
			errs = append(errs, fmt.Errorf("pod %q: the name is taken by the chain's bridge namespace", p.Name))
		case pods[p.Name].Name != "":
			errs = append(errs, fmt.Errorf("pod %q listed twice", p.Name))
		}
		pods[p.Name] = p
	}
	inbound := map[string]ChainEdge{}
	seen := map[[2]string]bool{}
	for _, e := range s.Edges {
		from, okFrom := pods[e.From]
		to, okTo := pods[e.To]
		if !okFrom || !okTo {
			errs = append(errs, fmt.Errorf("edge %s: both ends must be pods of the chain", e.Name()))
			continue
		}
		if e.From == e.To {
			errs = append(errs, fmt.Errorf("edge %s: a pod cannot call itself through the chain", e.Name()))
		}
		if seen[[2]string{e.From, e.To}] {
			errs = append(errs, fmt.Errorf("edge %s listed twice", e.Name()))
		}
		seen[[2]string{e.From, e.To}] = true
		if e.Mode != ModeTCP && e.Mode != ModeHTTP {
			errs = append(errs, fmt.Errorf("edge %s: mode %q: want %q or %q", e.Name(), e.Mode, ModeTCP, ModeHTTP))
		}
		if e.MTLS && (!from.Sidecar || !to.Sidecar) {
			errs = append(errs, fmt.Errorf("edge %s: mTLS needs a sidecar in both pods", e.Name()))
		}
		if prev, ok := inbound[e.To]; ok && to.Sidecar && (prev.Mode != e.Mode || prev.MTLS != e.MTLS) {
			errs = append(errs, fmt.Errorf("edges %s and %s: both enter pod %s, so they need the same mode and mTLS (one inbound listener per pod)",
				prev.Name(), e.Name(), e.To))
		}
		inbound[e.To] = e
	}
	for _, p := range s.ExcludePorts {
		if p <= 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("excluded port %d out of range", p))
		}
		if slices.Contains(proxyOwnPorts, p) {
			errs = append(errs, fmt.Errorf("excluded port %d is one of the proxy's own ports", p))
		}
	}
	errs = append(errs, limitErrors(s.MaxConn, s.ProxyThreads)...)
	if err := s.Proxy.check(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// podIndex returns the position of pod name in s.Pods, or -1.
func (s ChainSpec) podIndex(name string) int {
	return slices.IndexFunc(s.Pods, func(p ChainPod) bool { return p.Name == name })
}

// addr returns the address of the i-th pod.
func (s ChainSpec) addr(i int) netip.Addr {
	a := s.Subnet.Masked().Addr().Next()
	for range i {
		a = a.Next()
	}
	return a
}

// netnsName is the network namespace of pod name (or of the hub).
func (s ChainSpec) netnsName(name string) string { return s.Prefix + "-" + name }

// rules returns the nat rules of a pod with a sidecar: the bypass ports
// excluded both ways.
func (s ChainSpec) rules() Rules { return sidecarRules(s.ExcludePorts, s.ExcludePorts) }

// chainRoute is one outbound backend of a chain sidecar: the edge to a pod.
type chainRoute struct {
	To   string
	Addr netip.Addr
	Mode Mode
	// TLS is From's credentials, with PeerName set to To's identity; nil
	// without mTLS.
	TLS *TLSFiles
}

// chainProxyConfig is what one chain sidecar is configured from.
type chainProxyConfig struct {
	Pod string
	// InboundMode and InboundTLS come from the edges into the pod; a pod no
	// edge enters gets a TCP inbound listener without TLS.
	InboundMode Mode
	InboundTLS  *TLSFiles
	Routes      []chainRoute
	MaxConn     int
	Threads     int
	AdminSocket string
	// Proxy is the sidecar's tuning.
	Proxy HAProxy
}

// proxyConfig derives pod name's sidecar configuration; certs holds each
// pod's credentials (nil without any mTLS edge).
func (s ChainSpec) proxyConfig(name, adminSocket string, certs map[Pod]*TLSFiles) chainProxyConfig {
	c := chainProxyConfig{Pod: name, InboundMode: ModeTCP, MaxConn: s.MaxConn, Threads: s.ProxyThreads, AdminSocket: adminSocket, Proxy: s.Proxy}
	for _, e := range s.Edges {
		if e.To == name {
			c.InboundMode = e.Mode
			if e.MTLS {
				c.InboundTLS = certs[Pod(name)]
			}
		}
		if e.From == name {
			r := chainRoute{To: e.To, Addr: s.addr(s.podIndex(e.To)), Mode: e.Mode}
			if e.MTLS {
				own := *certs[Pod(name)]
				own.PeerName = identity(Pod(e.To))
				r.TLS = &own
			}
			c.Routes = append(c.Routes, r)
		}
	}
	return c
}

// chainHAProxyConfig renders a chain sidecar's haproxy.cfg. The inbound
// listener is the two-pod datapath's, in the pod's inbound mode. The
// outbound listener accepts in TCP mode and picks a backend by original
// destination address (haproxy reads SO_ORIGINAL_DST, so "dst" is the
// address the app dialled): each edge's backend has the edge's mode (a
// TCP-mode frontend may hand a connection to an HTTP-mode backend, which
// upgrades the stream) and TLS settings and forwards to the callee's address
// on the original port. Anything else passes through as TCP.
func chainHAProxyConfig(c chainProxyConfig) []byte {
	b := haproxyConfig{proxy: c.Proxy}
	b.line("# meshinsight chain: %s sidecar, inbound %s mTLS %s, %d outbound routes", c.Pod, c.InboundMode, onOff(c.InboundTLS != nil), len(c.Routes))
	b.preamble(c.MaxConn, c.Threads, c.AdminSocket, ModeTCP)
	b.inbound(c.Pod, c.InboundMode, c.InboundTLS, true)
	b.line("")
	b.line("frontend outbound")
	b.line("    mode tcp")
	b.line("    bind 0.0.0.0:%d", OutboundPort)
	b.line("    tcp-request connection reject if { dst_port %d }", OutboundPort)
	for _, r := range c.Routes {
		b.line("    use_backend to_%s if { dst %s }", r.To, r.Addr)
	}
	b.line("    default_backend passthrough")
	for _, r := range c.Routes {
		b.line("")
		b.line("backend to_%s", r.To)
		b.line("    mode %s", r.Mode)
		b.httpBackend(c.Pod+"-outbound", r.Mode)
		b.line("    # no port: the original destination port (SO_ORIGINAL_DST)")
		if r.TLS != nil {
			b.line("    server %s %s%s", r.To, r.Addr, upstreamTLS(r.TLS))
		} else {
			b.line("    server %s %s", r.To, r.Addr)
		}
	}
	b.line("")
	b.line("backend passthrough")
	b.line("    # 0.0.0.0 and no port: the original destination (SO_ORIGINAL_DST)")
	b.line("    server dst 0.0.0.0")
	return b.Bytes()
}
