package imageref

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		ref    string
		want   Ref
		pulled string
	}{
		{"docker.io/istio/pilot:1.28.1", Ref{"docker.io/istio/pilot", "1.28.1", ""}, "1.28.1"},
		{"docker.io/istio/pilot", Ref{"docker.io/istio/pilot", "", ""}, Latest},
		{"pilot", Ref{"pilot", "", ""}, Latest},
		{"pilot:1.2", Ref{"pilot", "1.2", ""}, "1.2"},
		{"localhost:5000/a/b:t", Ref{"localhost:5000/a/b", "t", ""}, "t"},
		{"localhost:5000/a/b", Ref{"localhost:5000/a/b", "", ""}, Latest},
		{"agent:t@sha256:00", Ref{"agent", "t", "sha256:00"}, "t"},
		{"ghcr.io/x@sha256:00", Ref{"ghcr.io/x", "", "sha256:00"}, ""},
		{"", Ref{}, Latest},
	}
	for _, tt := range tests {
		got := Parse(tt.ref)
		if got != tt.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.ref, got, tt.want)
		}
		if p := got.PulledTag(); p != tt.pulled {
			t.Errorf("Parse(%q).PulledTag() = %q, want %q", tt.ref, p, tt.pulled)
		}
		if s := got.String(); s != tt.ref {
			t.Errorf("Parse(%q).String() = %q", tt.ref, s)
		}
	}
}

func TestSibling(t *testing.T) {
	tests := map[string]string{
		"docker.io/istio/pilot:1.28.1":            "docker.io/istio/proxyv2:1.28.1",
		"pilot:1.28.1":                            "proxyv2:1.28.1",
		"localhost:5000/istio/pilot":              "localhost:5000/istio/proxyv2:latest",
		"gcr.io/istio-release/pilot:1.2@sha256:0": "gcr.io/istio-release/proxyv2:1.2",
		"gcr.io/istio-release/pilot@sha256:0":     "gcr.io/istio-release/proxyv2",
	}
	for ref, want := range tests {
		if got := Parse(ref).Sibling("proxyv2").String(); got != want {
			t.Errorf("Parse(%q).Sibling(proxyv2) = %q, want %q", ref, got, want)
		}
	}
}
