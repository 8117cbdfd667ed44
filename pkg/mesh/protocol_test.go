package mesh

import (
	"fmt"
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

func TestProtocol(t *testing.T) {
	tests := []struct {
		name     string
		port     Port
		want     dataplane.Protocol
		source   ProtocolSource
		code     diag.Code // expected message, if any
		contains string
	}{
		{"appProtocol wins over the name", Port{Name: "tcp-legacy", Port: 80, AppProtocol: "http2"}, dataplane.HTTP2, ProtocolFromAppProtocol, "", ""},
		{"appProtocol grpc", Port{Name: "x", Port: 80, AppProtocol: "grpc"}, dataplane.GRPC, ProtocolFromAppProtocol, "", ""},
		{"appProtocol h2c", Port{Port: 80, AppProtocol: "kubernetes.io/h2c"}, dataplane.HTTP2, ProtocolFromAppProtocol, "", ""},
		{"appProtocol ws", Port{Port: 80, AppProtocol: "kubernetes.io/ws"}, dataplane.HTTP, ProtocolFromAppProtocol, "", ""},
		{"appProtocol wss is opaque", Port{Port: 443, AppProtocol: "kubernetes.io/wss"}, dataplane.TCP, ProtocolFromAppProtocol, "", ""},
		{"appProtocol with suffix", Port{Port: 80, AppProtocol: "HTTP-api"}, dataplane.HTTP, ProtocolFromAppProtocol, "", ""},
		{"unknown appProtocol hides the name", Port{Name: "http", Port: 80, AppProtocol: "example.com/thrift"}, dataplane.HTTP, ProtocolSniffed, diag.ProtocolSniffed, "Istio then ignores the port name"},
		{"http-foo", Port{Name: "http-foo", Port: 80}, dataplane.HTTP, ProtocolFromPortName, "", ""},
		{"upper-case name", Port{Name: "HTTP2", Port: 80}, dataplane.HTTP2, ProtocolFromPortName, "", ""},
		{"grpc with suffix", Port{Name: "grpc-orders", Port: 9000}, dataplane.GRPC, ProtocolFromPortName, "", ""},
		{"grpc", Port{Name: "grpc", Port: 9000}, dataplane.GRPC, ProtocolFromPortName, "", ""},
		{"grpc-web", Port{Name: "grpc-web", Port: 9000}, dataplane.HTTP, ProtocolFromPortName, "", ""},
		{"grpc-web with suffix", Port{Name: "grpc-web-ui", Port: 9000}, dataplane.HTTP, ProtocolFromPortName, "", ""},
		{"grpc-webhooks reads as grpc-web, as in Istio", Port{Name: "grpc-webhooks", Port: 9000}, dataplane.HTTP, ProtocolFromPortName, "", ""},
		{"tcp", Port{Name: "tcp", Port: 9000}, dataplane.TCP, ProtocolFromPortName, "", ""},
		{"https is tcp", Port{Name: "https", Port: 443}, dataplane.TCP, ProtocolFromPortName, "", ""},
		{"tls is tcp", Port{Name: "tls-passthrough", Port: 443}, dataplane.TCP, ProtocolFromPortName, "", ""},
		{"mongo is tcp", Port{Name: "mongo", Port: 27018}, dataplane.TCP, ProtocolFromPortName, "", ""},
		{"mysql is tcp", Port{Name: "mysql-primary", Port: 3307}, dataplane.TCP, ProtocolFromPortName, "", ""},
		{"redis is tcp", Port{Name: "redis", Port: 6379}, dataplane.TCP, ProtocolFromPortName, "", ""},
		{"unnamed is sniffed", Port{Port: 8080}, dataplane.HTTP, ProtocolSniffed, diag.ProtocolSniffed, "HTTP/1.1, HTTP/2 or else TCP"},
		{"unknown name is sniffed", Port{Name: "web", Port: 8080}, dataplane.HTTP, ProtocolSniffed, diag.ProtocolSniffed, `name "web" has no protocol prefix`},
		{"prefix needs a dash", Port{Name: "httpfoo", Port: 8080}, dataplane.HTTP, ProtocolSniffed, diag.ProtocolSniffed, ""},
		{"unnamed well-known port", Port{Port: 3306}, dataplane.TCP, ProtocolFromWellKnownPort, "", ""},
		{"udp transport", Port{Name: "dns", Port: 53, Protocol: "UDP"}, dataplane.TCP, ProtocolNotProxied, diag.NotProxied, "UDP"},
		{"udp name", Port{Name: "udp-syslog", Port: 514}, dataplane.TCP, ProtocolNotProxied, diag.NotProxied, "declares UDP"},
		{"sctp transport", Port{Name: "http", Port: 80, Protocol: "SCTP"}, dataplane.TCP, ProtocolNotProxied, diag.NotProxied, "SCTP"},
	}
	var c *Config // a nil Config answers with Istio's rules too
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, src, msgs := c.Protocol(Service{Namespace: "shop", Name: "cart"}, tt.port)
			if got != tt.want || src != tt.source {
				t.Errorf("Protocol = %s (%s), want %s (%s)", got, src, tt.want, tt.source)
			}
			if tt.code == "" {
				if len(msgs) != 0 {
					t.Errorf("unexpected messages %v", msgs)
				}
				return
			}
			if len(msgs) != 1 || msgs[0].Code != tt.code || msgs[0].Severity != diag.Warning {
				t.Fatalf("messages = %v, want one %s warning", msgs, tt.code)
			}
			if msgs[0].Subject != fmt.Sprintf("shop/cart:%d", tt.port.Port) || !strings.Contains(msgs[0].Message, tt.contains) {
				t.Errorf("message = %v, want subject shop/cart:%d and text %q", msgs[0], tt.port.Port, tt.contains)
			}
		})
	}
}
