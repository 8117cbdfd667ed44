package mesh

import (
	"fmt"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// wellKnownPorts are ports Istio treats as TCP instead of sniffing them, because
// their server-first protocols break sniffing (SMTP, DNS, MySQL, MongoDB).
var wellKnownPorts = map[int32]bool{25: true, 53: true, 3306: true, 27017: true}

// Protocol decides the protocol the proxies treat a Service port as, with Istio's
// rules: a UDP or SCTP port is not proxied; a set appProtocol decides (Istio then
// ignores the port name); otherwise the port name's <protocol>[-suffix] prefix;
// otherwise well-known server-first ports are TCP and everything else is sniffed,
// which the model counts as http with a warning. Protocols the model has no class
// for map to the nearest: https, tls, mongo, mysql and redis are opaque TCP to the
// proxy, grpc-web is HTTP. Unknown names never fail.
func (c *Config) Protocol(svc Service, port Port) (dataplane.Protocol, ProtocolSource, []diag.Message) {
	subject := fmt.Sprintf("%s:%d", svc.ID(), port.Port)
	switch transport := strings.ToUpper(port.Protocol); transport {
	case "UDP", "SCTP":
		return dataplane.TCP, ProtocolNotProxied, []diag.Message{diag.New(diag.NotProxied, subject,
			"port %d is %s, which Istio's proxies do not intercept; the edge has no mesh overhead", port.Port, transport)}
	}
	if port.AppProtocol != "" {
		if p, ok := parseAppProtocol(port.AppProtocol); ok {
			return p, ProtocolFromAppProtocol, nil
		}
		if p, source, msgs, ok := declared(subject, "appProtocol", port.AppProtocol, ProtocolFromAppProtocol); ok {
			return p, source, msgs
		}
		if wellKnownPorts[port.Port] {
			return dataplane.TCP, ProtocolFromWellKnownPort, nil
		}
		return dataplane.HTTP, ProtocolSniffed, []diag.Message{diag.New(diag.ProtocolSniffed, subject,
			"appProtocol %q is not a protocol Istio knows, and Istio then ignores the port name: the proxy sniffs HTTP/1.1, HTTP/2 or else TCP from the first bytes; assumed http. Set appProtocol to http, http2, grpc or tcp",
			port.AppProtocol)}
	}
	if p, source, msgs, ok := declared(subject, "port name", port.Name, ProtocolFromPortName); ok {
		return p, source, msgs
	}
	if wellKnownPorts[port.Port] {
		return dataplane.TCP, ProtocolFromWellKnownPort, nil
	}
	name := "is unnamed"
	if port.Name != "" {
		name = fmt.Sprintf("name %q has no protocol prefix", port.Name)
	}
	return dataplane.HTTP, ProtocolSniffed, []diag.Message{diag.New(diag.ProtocolSniffed, subject,
		"port %d has no appProtocol and its %s: the proxy sniffs HTTP/1.1, HTTP/2 or else TCP from the first bytes; assumed http. Set appProtocol or name the port <protocol>[-suffix] (http, http2, grpc, tcp)",
		port.Port, name)}
}

// declared reads the protocol a port's field (its appProtocol or name) declares
// with Istio's <protocol>[-suffix] convention, credited to source; UDP is not
// proxied, said so. ok is false when value names no protocol Istio knows.
func declared(subject, field, value string, source ProtocolSource) (dataplane.Protocol, ProtocolSource, []diag.Message, bool) {
	p, ok := parsePortProtocol(value)
	if !ok {
		return "", "", nil, false
	}
	if p == "" {
		return dataplane.TCP, ProtocolNotProxied, []diag.Message{diag.New(diag.NotProxied, subject,
			"%s %q declares UDP, which Istio's proxies do not intercept; the edge has no mesh overhead", field, value)}, true
	}
	return p, source, nil, true
}

// parseAppProtocol handles the appProtocol values Kubernetes standardises.
func parseAppProtocol(s string) (dataplane.Protocol, bool) {
	switch strings.ToLower(s) {
	case "kubernetes.io/h2c":
		return dataplane.HTTP2, true
	case "kubernetes.io/ws":
		return dataplane.HTTP, true
	case "kubernetes.io/wss":
		return dataplane.TCP, true // HTTPS: TLS the proxy does not terminate
	}
	return "", false
}

// parsePortProtocol reads Istio's <protocol>[-suffix] convention (case
// insensitive). ok is false when s names no protocol Istio knows; an empty
// protocol with ok means UDP.
func parsePortProtocol(s string) (p dataplane.Protocol, ok bool) {
	s = strings.ToLower(s)
	if strings.HasPrefix(s, "grpc-web") {
		return dataplane.HTTP, true
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		s = s[:i]
	}
	switch s {
	case "http", "http_proxy":
		return dataplane.HTTP, true
	case "http2":
		return dataplane.HTTP2, true
	case "grpc":
		return dataplane.GRPC, true
	case "tcp", "https", "tls", "mongo", "mysql", "redis":
		return dataplane.TCP, true
	case "udp":
		return "", true
	}
	return "", false
}
