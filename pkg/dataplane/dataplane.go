// Package dataplane is the mesh vocabulary every other package shares: the
// data-plane mode a workload's traffic goes through and the application
// protocol a proxy sees. It has no dependencies, so the call graph, the
// profile, the cluster readers and the agent all spell these words the same
// way.
package dataplane

import (
	"fmt"
	"strings"
)

// Mode is the data plane a workload's traffic goes through.
type Mode string

// Data-plane modes.
const (
	// Sidecar is an Istio sidecar proxy (Envoy) in every pod.
	Sidecar Mode = "sidecar"
	// Ambient is Istio ambient mode: the node's ztunnel (L4 only).
	Ambient Mode = "ambient"
	// Waypoint is ambient mode with a waypoint proxy (L7) in front of the
	// workload.
	Waypoint Mode = "waypoint"
	// None means the workload is not in the mesh.
	None Mode = "none"
)

// Modes lists every mode.
var Modes = []Mode{Sidecar, Ambient, Waypoint, None}

// ProxiedModes lists the modes whose traffic crosses a proxy: the modes a
// profile has models for.
var ProxiedModes = []Mode{Sidecar, Ambient, Waypoint}

// CaptureModes lists the ways a workload's own pods can have their traffic
// intercepted: by their own sidecar, by the node's ztunnel (ambient), or not
// at all. A workload's outbound path (the calls it makes) and its inbound
// path (the calls it receives, behind any waypoint) are each one of them; a
// waypoint is never on a workload's own outbound path.
var CaptureModes = []Mode{Sidecar, Ambient, None}

// Meshed reports whether traffic of a workload in this mode passes a proxy.
func (m Mode) Meshed() bool { return m != None }

// Capture is how the pods of a workload in mode m intercept their own
// traffic: Waypoint is ambient capture with a waypoint in front of the
// workload, not in its pods, so its capture is Ambient.
func (m Mode) Capture() Mode {
	if m == Waypoint {
		return Ambient
	}
	return m
}

// ParseMode returns the Mode spelled s.
func ParseMode(s string) (Mode, error) {
	return parse(s, Modes, "data-plane mode")
}

// ParseCaptureMode returns the capture mode (sidecar, ambient or none)
// spelled s: the value of a workload's outbound path.
func ParseCaptureMode(s string) (Mode, error) {
	return parse(s, CaptureModes, "outbound mode")
}

// Protocol is the application protocol of a call as the proxy sees it.
type Protocol string

// Protocols.
const (
	TCP   Protocol = "tcp"
	HTTP  Protocol = "http"
	HTTP2 Protocol = "http2"
	GRPC  Protocol = "grpc"
)

// Protocols lists every protocol.
var Protocols = []Protocol{TCP, HTTP, HTTP2, GRPC}

// L7 reports whether the proxy parses the protocol (everything but raw TCP).
func (p Protocol) L7() bool { return p != TCP }

// ParseProtocol returns the Protocol spelled s.
func ParseProtocol(s string) (Protocol, error) {
	return parse(s, Protocols, "protocol")
}

// parse finds s among valid, or says what was wanted.
func parse[T ~string](s string, valid []T, what string) (T, error) {
	for _, v := range valid {
		if string(v) == s {
			return v, nil
		}
	}
	names := make([]string, len(valid))
	for i, v := range valid {
		names[i] = string(v)
	}
	return "", fmt.Errorf("unknown %s %q (want %s)", what, s, strings.Join(names, ", "))
}
