package datapath

import (
	"bytes"
	"fmt"
	"slices"
)

// Rules describes the nat rules of one pod with a sidecar, in the shape
// istio-iptables writes them.
type Rules struct {
	// InboundPort is where inbound TCP is redirected (15006).
	InboundPort int
	// OutboundPort is where outbound TCP is redirected (15001).
	OutboundPort int
	// ProxyUID owns the proxy's sockets; its traffic is never redirected
	// back to itself.
	ProxyUID int
	// ExcludeInboundPorts are destination ports left alone on the way in.
	// The proxy's own ports are always excluded.
	ExcludeInboundPorts []int
	// ExcludeOutboundPorts are destination ports left alone on the way out.
	ExcludeOutboundPorts []int
}

// proxyOwnPorts are never intercepted inbound: the redirect targets
// themselves and Istio's agent, stats and HBONE ports.
var proxyOwnPorts = []int{15001, 15006, 15008, 15020, 15021, 15090}

// RestoreInput renders r as an iptables-restore document for the nat table.
// It creates Istio's chains: ISTIO_INBOUND (PREROUTING) sends every TCP
// destination port that is not excluded to ISTIO_IN_REDIRECT (REDIRECT to the
// inbound port); ISTIO_OUTPUT (OUTPUT) first lets through the proxy's own
// connections and loopback traffic, as istio-iptables does (a proxy
// connection over lo to the pod's own address is inbound traffic and is sent
// to ISTIO_IN_REDIRECT; other loopback traffic, and anything owned by the
// proxy uid, returns), then the excluded ports, and sends the rest to
// ISTIO_REDIRECT (REDIRECT to the outbound port).
func (r Rules) RestoreInput() []byte {
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("*nat")
	w(":ISTIO_INBOUND - [0:0]")
	w(":ISTIO_IN_REDIRECT - [0:0]")
	w(":ISTIO_OUTPUT - [0:0]")
	w(":ISTIO_REDIRECT - [0:0]")
	w("-A PREROUTING -p tcp -j ISTIO_INBOUND")
	w("-A OUTPUT -p tcp -j ISTIO_OUTPUT")
	in := slices.Sorted(slices.Values(slices.Concat(proxyOwnPorts, r.ExcludeInboundPorts)))
	for _, p := range slices.Compact(in) {
		w("-A ISTIO_INBOUND -p tcp --dport %d -j RETURN", p)
	}
	w("-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT")
	w("-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports %d", r.InboundPort)
	w("-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN")
	w("-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner %d -j ISTIO_IN_REDIRECT", r.ProxyUID)
	w("-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner %d -j RETURN", r.ProxyUID)
	w("-A ISTIO_OUTPUT -m owner --uid-owner %d -j RETURN", r.ProxyUID)
	w("-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --gid-owner %d -j ISTIO_IN_REDIRECT", r.ProxyUID)
	w("-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner %d -j RETURN", r.ProxyUID)
	w("-A ISTIO_OUTPUT -m owner --gid-owner %d -j RETURN", r.ProxyUID)
	w("-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN")
	out := slices.Sorted(slices.Values(r.ExcludeOutboundPorts))
	for _, p := range slices.Compact(out) {
		w("-A ISTIO_OUTPUT -p tcp --dport %d -j RETURN", p)
	}
	w("-A ISTIO_OUTPUT -j ISTIO_REDIRECT")
	w("-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports %d", r.OutboundPort)
	w("COMMIT")
	return b.Bytes()
}

// rules returns the nat rules of a pod with a sidecar built from spec s.
func (s Spec) rules() Rules { return sidecarRules(s.ExcludeInboundPorts, s.ExcludeOutboundPorts) }

// sidecarRules are the nat rules of a pod with a sidecar on Istio's ports,
// leaving the excluded destination ports alone.
func sidecarRules(excludeInbound, excludeOutbound []int) Rules {
	return Rules{
		InboundPort:          InboundPort,
		OutboundPort:         OutboundPort,
		ProxyUID:             ProxyUID,
		ExcludeInboundPorts:  excludeInbound,
		ExcludeOutboundPorts: excludeOutbound,
	}
}
