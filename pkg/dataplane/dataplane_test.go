package dataplane

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, m := range Modes {
		if got, err := ParseMode(string(m)); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %q, %v", m, got, err)
		}
	}
	for _, p := range Protocols {
		if got, err := ParseProtocol(string(p)); err != nil || got != p {
			t.Errorf("ParseProtocol(%q) = %q, %v", p, got, err)
		}
	}
	if _, err := ParseMode("sidcar"); err == nil || !strings.Contains(err.Error(), `unknown data-plane mode "sidcar" (want sidecar, ambient, waypoint, none)`) {
		t.Errorf("ParseMode(sidcar) error = %v", err)
	}
	if _, err := ParseProtocol("h3"); err == nil || !strings.Contains(err.Error(), `unknown protocol "h3" (want tcp, http, http2, grpc)`) {
		t.Errorf("ParseProtocol(h3) error = %v", err)
	}
}

func TestProxiedModesAreTheMeshedOnes(t *testing.T) {
	var meshed []Mode
	for _, m := range Modes {
		if m.Meshed() {
			meshed = append(meshed, m)
		}
	}
	if strings.Join(toStrings(meshed), ",") != strings.Join(toStrings(ProxiedModes), ",") {
		t.Errorf("meshed modes %v, ProxiedModes %v", meshed, ProxiedModes)
	}
	if TCP.L7() || !HTTP.L7() || !GRPC.L7() || !HTTP2.L7() {
		t.Error("L7 wrong")
	}
}

func toStrings(ms []Mode) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m)
	}
	return out
}

func TestCapture(t *testing.T) {
	want := map[Mode]Mode{Sidecar: Sidecar, Ambient: Ambient, Waypoint: Ambient, None: None}
	for m, c := range want {
		if got := m.Capture(); got != c {
			t.Errorf("%s.Capture() = %s, want %s", m, got, c)
		}
		if _, err := ParseCaptureMode(string(c)); err != nil {
			t.Errorf("ParseCaptureMode(%q): %v", c, err)
		}
	}
	if _, err := ParseCaptureMode("waypoint"); err == nil || !strings.Contains(err.Error(), "(want sidecar, ambient, none)") {
		t.Errorf("a waypoint is accepted as an outbound path: %v", err)
	}
}
