package version

import (
	"strings"
	"testing"
)

func TestAgentSkew(t *testing.T) {
	tests := []struct {
		name, client, agent string
		want                string // "" or the message's prefix
	}{
		{"same release", "v0.2.1", "ghcr.io/meshinsight/meshinsight-agent:v0.2.1", ""},
		{"bare tag", "v0.2.1", "v0.2.1", ""},
		{"patch differs", "v0.2.1", "ghcr.io/meshinsight/meshinsight-agent:v0.2.0", ""},
		{"tag and digest", "v0.2.1", "ghcr.io/meshinsight/meshinsight-agent:v0.2.1@sha256:0123", ""},
		{"registry port", "v1.0.0", "localhost:5000/agent:v1.0.3", ""},
		{"prerelease same minor", "v0.3.0-rc.1", "agent:v0.3.0", ""},
		{"minor differs", "v0.2.1", "ghcr.io/meshinsight/meshinsight-agent:v0.1.9", "Warning:"},
		{"major differs", "v2.0.0", "agent:v1.0.0", "Warning:"},
		{"without v prefix", "v1.2.0", "agent:1.3.0", "Warning:"},
		{"dev client", "dev", "ghcr.io/meshinsight/meshinsight-agent:v0.2.1", "Note:"},
		{"dev both", "dev", "ghcr.io/meshinsight/meshinsight-agent:dev", "Note:"},
		{"git describe client", "v0.2.1-3-gabc1234", "agent:v0.2.1", "Note:"},
		{"dirty agent", "v0.2.1", "agent:v0.2.1-dirty", "Note:"},
		{"describe dirty both", "v0.2.1-3-gabc1234-dirty", "agent:v0.2.1-3-gabc1234-dirty", "Note:"},
		{"commit only", "v0.2.1", "agent:abc1234", "Note:"},
		{"no tag", "v0.2.1", "ghcr.io/meshinsight/meshinsight-agent", "Note:"},
		{"no tag with port", "v0.2.1", "localhost:5000/agent", "Note:"},
		{"digest only", "v0.2.1", "ghcr.io/meshinsight/meshinsight-agent@sha256:0123", "Note:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AgentSkew(tt.client, tt.agent)
			if tt.want == "" {
				if got != "" {
					t.Fatalf("AgentSkew(%q, %q) = %q, want no message", tt.client, tt.agent, got)
				}
				return
			}
			if !strings.HasPrefix(got, tt.want) {
				t.Fatalf("AgentSkew(%q, %q) = %q, want a message starting %q", tt.client, tt.agent, got, tt.want)
			}
		})
	}
}

func TestAgentSkewNamesBothVersions(t *testing.T) {
	got := AgentSkew("v0.3.0", "ghcr.io/meshinsight/meshinsight-agent:v0.2.0")
	for _, s := range []string{"v0.3.0", "v0.2.0"} {
		if !strings.Contains(got, s) {
			t.Errorf("message %q does not name %s", got, s)
		}
	}
}

func TestAgentImageRef(t *testing.T) {
	defer func(v, img string) { Version, AgentImage = v, img }(Version, AgentImage)

	Version, AgentImage = "v0.4.0", ""
	if got, want := AgentImageRef(), "ghcr.io/meshinsight/meshinsight-agent:v0.4.0"; got != want {
		t.Errorf("default AgentImageRef() = %q, want %q", got, want)
	}
	AgentImage = "registry.example/agent:custom"
	if got := AgentImageRef(); got != AgentImage {
		t.Errorf("AgentImageRef() with AgentImage set = %q, want %q", got, AgentImage)
	}
	// The default image of a release build carries no skew.
	AgentImage = ""
	if msg := AgentSkew(Version, AgentImageRef()); msg != "" {
		t.Errorf("AgentSkew(Version, AgentImageRef()) = %q, want none", msg)
	}
}

func TestImageTag(t *testing.T) {
	tests := map[string]string{
		"ghcr.io/meshinsight/meshinsight-agent:v1.2.3": "v1.2.3",
		"localhost:5000/a/b:t":                         "t",
		"localhost:5000/a/b":                           "",
		"agent":                                        "agent", // a bare word is a tag
		"agent:t@sha256:00":                            "t",
		"ghcr.io/x@sha256:00":                          "",
	}
	for ref, want := range tests {
		if got := imageTag(ref); got != want {
			t.Errorf("imageTag(%q) = %q, want %q", ref, got, want)
		}
	}
}
