package version

import (
	"os"
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/imageref"
)

// Issue #13 item 16: a release build deploys its agent by digest, which
// cannot be moved to another image as a tag can.
func TestAgentImageRefPinsTheDigest(t *testing.T) {
	defer func(v, img, d string) { Version, AgentImage, AgentDigest = v, img, d }(Version, AgentImage, AgentDigest)
	digest := "sha256:" + strings.Repeat("ab", 32)
	Version, AgentImage, AgentDigest = "v0.4.0", "", digest
	ref := imageref.Parse(AgentImageRef())
	if ref.Repository != AgentRepository || ref.Tag != "v0.4.0" || ref.Digest != digest {
		t.Errorf("AgentImageRef() = %q, want %s:v0.4.0@%s", AgentImageRef(), AgentRepository, digest)
	}
	if msg := AgentSkew(Version, AgentImageRef()); msg != "" {
		t.Errorf("the pinned default image carries skew %q", msg)
	}
	AgentDigest = "sha256:not-hex"
	if got := AgentImageRef(); strings.Contains(got, "@") {
		t.Errorf("a malformed digest was used: %q", got)
	}
}

// The release builds the image first and links its digest into the
// plugin; goreleaser fails without it.
func TestReleasePinsTheAgentDigest(t *testing.T) {
	goreleaser, err := os.ReadFile("../../.goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(goreleaser), "-X github.com/meshinsight/kubectl-meshinsight/pkg/version.AgentDigest={{ .Env.AGENT_DIGEST }}") {
		t.Error(".goreleaser.yaml does not link AGENT_DIGEST into pkg/version.AgentDigest")
	}
	workflow, err := os.ReadFile("../../.github/workflows/release.yml")
	if err != nil {
		t.Fatal(err)
	}
	w := string(workflow)
	image, release := strings.Index(w, "make image"), strings.Index(w, "goreleaser/goreleaser-action")
	if image < 0 || release < 0 || image > release {
		t.Error("release.yml must push the agent image before goreleaser builds the plugin")
	}
	if !strings.Contains(w[release:], "AGENT_DIGEST: ${{ steps.agent.outputs.digest }}") {
		t.Error("release.yml does not pass the image's digest to goreleaser")
	}
}
