package datapath

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
)

// Pod names one of the two pods of a datapath.
type Pod string

const (
	// Client is the pod that runs the load generator and dials the server.
	Client Pod = "client"
	// Server is the pod that runs the application server.
	Server Pod = "server"
)

// Pods lists both pods, client first.
var Pods = []Pod{Client, Server}

// Mode is the protocol the proxies are configured for.
type Mode string

const (
	// ModeTCP configures the proxies as plain TCP (L4) forwarders.
	ModeTCP Mode = "tcp"
	// ModeHTTP configures the proxies as HTTP/1.1 (L7) proxies.
	ModeHTTP Mode = "http"
)

// Sidecars says which pods get a proxy.
type Sidecars int

const (
	// SidecarNone runs no proxy: the datapath is two plain pods.
	SidecarNone Sidecars = 0
	// SidecarClient runs a proxy in the client pod only.
	SidecarClient Sidecars = 1
	// SidecarServer runs a proxy in the server pod only.
	SidecarServer Sidecars = 2
	// SidecarBoth runs a proxy in each pod, as a meshed call does.
	SidecarBoth = SidecarClient | SidecarServer
)

// Has reports whether pod p gets a proxy.
func (s Sidecars) Has(p Pod) bool {
	switch p {
	case Client:
		return s&SidecarClient != 0
	case Server:
		return s&SidecarServer != 0
	}
	return false
}

// Ports Istio's sidecar uses; the same numbers are used here so that rules and
// measurements read like a real mesh.
const (
	// InboundPort is where inbound connections are redirected (Istio's 15006).
	InboundPort = 15006
	// OutboundPort is where outbound connections are redirected (Istio's 15001).
	OutboundPort = 15001
	// ProxyUID is the uid (and gid) the proxies run as; their own traffic is
	// exempt from redirection by an owner match on it (Istio's 1337).
	ProxyUID = 1337
	// ViaHeader is the response header the proxies add in HTTP mode, one
	// value per proxy crossed ("server-inbound", "client-outbound").
	ViaHeader = "X-Meshinsight-Via"
)

// DefaultSubnet holds the pod addresses: the client gets .1 and the server
// .2. It is only ever assigned inside the pods' network namespaces.
var DefaultSubnet = netip.MustParsePrefix("10.213.0.0/24")

// Spec describes the datapath to build. The zero value plus a Sidecars choice
// is a usable spec.
type Spec struct {
	// Prefix names everything the datapath creates; empty means
	// "mi-<random>". At most 12 characters of [a-z0-9-].
	Prefix string
	// Subnet holds the two pod addresses; zero means DefaultSubnet.
	Subnet netip.Prefix
	// Sidecars says which pods get a proxy.
	Sidecars Sidecars
	// Mode is the protocol the proxies handle; empty means ModeHTTP.
	Mode Mode
	// MTLS makes the client's outbound proxy originate TLS with a client
	// certificate and the server's inbound proxy require it. It needs
	// SidecarBoth.
	MTLS bool
	// Proxy is the proxy kind; nil means HAProxy{}.
	Proxy Proxy
	// AppPort is the server application's meshed port. Proxies that can
	// recover a connection's original destination (HAProxy) forward to
	// whatever port was dialled; the others (nginx) forward to AppPort.
	AppPort int
	// ExcludeInboundPorts are not redirected to the inbound proxy (Istio's
	// traffic.sidecar.istio.io/excludeInboundPorts): the A/B bypass.
	ExcludeInboundPorts []int
	// ExcludeOutboundPorts are not redirected to the outbound proxy (Istio's
	// traffic.sidecar.istio.io/excludeOutboundPorts).
	ExcludeOutboundPorts []int
	// MaxConn caps each proxy's concurrent connections; zero means 4096.
	MaxConn int
	// ProxyThreads is the number of worker threads per proxy; zero means 1.
	ProxyThreads int
}

var prefixRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,11}$`)

// checkPrefix validates the name prefix of a datapath or chain.
func checkPrefix(prefix string) error {
	if !prefixRE.MatchString(prefix) {
		return fmt.Errorf("prefix %q: want 1-12 characters of [a-z0-9-], starting with a letter or digit", prefix)
	}
	return nil
}

// withDefaults returns s with every zero field filled in.
func (s Spec) withDefaults() (Spec, error) {
	if err := defaultNames(&s.Prefix, &s.Subnet, "mi-", DefaultSubnet); err != nil {
		return s, err
	}
	if s.Mode == "" {
		s.Mode = ModeHTTP
	}
	if s.Proxy == nil {
		s.Proxy = HAProxy{}
	}
	s.MaxConn, s.ProxyThreads = defaultLimits(s.MaxConn, s.ProxyThreads)
	return s, nil
}

// defaultNames fills in an empty name prefix (kind and six random hex
// digits, "mi-1a2b3c") and an unset subnet.
func defaultNames(prefix *string, subnet *netip.Prefix, kind string, defaultSubnet netip.Prefix) error {
	if !subnet.IsValid() {
		*subnet = defaultSubnet
	}
	if *prefix != "" {
		return nil
	}
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("generating a name prefix: %w", err)
	}
	*prefix = kind + hex.EncodeToString(b)
	return nil
}

// prepare fills in a spec's defaults, validates it and checks that the
// caller may build it (root). what names the spec in errors, creates what
// building it creates.
func prepare[S interface{ Validate() error }](spec S, withDefaults func(S) (S, error), what, creates string) (S, error) {
	spec, err := withDefaults(spec)
	if err != nil {
		return spec, err
	}
	if err := spec.Validate(); err != nil {
		return spec, fmt.Errorf("invalid %s spec: %w", what, err)
	}
	if os.Geteuid() != 0 {
		return spec, fmt.Errorf("building a %s needs root: network namespaces, %s are created", what, creates)
	}
	return spec, nil
}

// defaultLimits fills in every proxy's connection cap (4096) and worker
// threads (1).
func defaultLimits(maxConn, threads int) (int, int) { return cmp.Or(maxConn, 4096), cmp.Or(threads, 1) }

// limitErrors checks every proxy's connection cap and worker threads.
func limitErrors(maxConn, threads int) []error {
	var errs []error
	if maxConn < 1 {
		errs = append(errs, fmt.Errorf("maxconn %d: want at least 1", maxConn))
	}
	if threads < 1 || threads > 64 {
		errs = append(errs, fmt.Errorf("proxy threads %d: want 1-64", threads))
	}
	return errs
}

// Validate reports what is wrong with a spec whose defaults are filled in.
// It does no I/O.
func (s Spec) Validate() error {
	var errs []error
	if err := checkPrefix(s.Prefix); err != nil {
		errs = append(errs, err)
	}
	if !s.Subnet.Addr().Is4() || s.Subnet.Bits() > 30 {
		errs = append(errs, fmt.Errorf("subnet %s: want an IPv4 prefix of /30 or wider", s.Subnet))
	}
	if s.Mode != ModeTCP && s.Mode != ModeHTTP {
		errs = append(errs, fmt.Errorf("mode %q: want %q or %q", s.Mode, ModeTCP, ModeHTTP))
	}
	if s.Sidecars&^SidecarBoth != 0 {
		errs = append(errs, fmt.Errorf("sidecars %d: want SidecarNone, SidecarClient, SidecarServer or SidecarBoth", s.Sidecars))
	}
	if s.MTLS && s.Sidecars != SidecarBoth {
		errs = append(errs, errors.New("mTLS needs a sidecar in both pods (Sidecars: SidecarBoth)"))
	}
	if s.AppPort < 0 || s.AppPort > 65535 {
		errs = append(errs, fmt.Errorf("app port %d out of range", s.AppPort))
	}
	for _, p := range slices.Concat(s.ExcludeInboundPorts, s.ExcludeOutboundPorts) {
		if p <= 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("excluded port %d out of range", p))
		}
	}
	if s.AppPort != 0 && slices.Contains(s.ExcludeInboundPorts, s.AppPort) {
		errs = append(errs, fmt.Errorf("app port %d is also excluded from inbound interception", s.AppPort))
	}
	errs = append(errs, limitErrors(s.MaxConn, s.ProxyThreads)...)
	return errors.Join(errs...)
}

// addr returns pod p's address in the subnet.
func (s Spec) addr(p Pod) netip.Addr {
	a := s.Subnet.Masked().Addr().Next()
	if p == Server {
		a = a.Next()
	}
	return a
}

// netnsName is the name of pod p's network namespace.
func (s Spec) netnsName(p Pod) string { return s.Prefix + "-" + string(p) }
