package version

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/imageref"
)

// AgentRepository is where releases publish the agent image, tagged with the
// release's Version (make image, .github/workflows/release.yml).
const AgentRepository = "ghcr.io/meshinsight/meshinsight-agent"

// AgentImage overrides the agent image the plugin deploys:
//
//	-ldflags "-X github.com/meshinsight/kubectl-meshinsight/pkg/version.AgentImage=registry.example/agent:v0.1.0"
//
// It is empty by default, and must stay a constant for -X to apply, so read it
// through AgentImageRef, which falls back to AgentRepository:Version.
var AgentImage = ""

// AgentDigest pins the default agent image to the image a release pushed
// ("sha256:…", the digest of its image index), set at link time:
//
//	-ldflags "-X github.com/meshinsight/kubectl-meshinsight/pkg/version.AgentDigest=sha256:…"
//
// A tag can be moved to another image after the release; a digest cannot,
// so a released plugin deploys, with its privileges, exactly the agent it
// was released with. The release workflow builds and pushes the image
// first and builds the plugin with its digest (.github/workflows/release.yml,
// .goreleaser.yaml); development builds have none.
var AgentDigest = ""

// digestRE is the form of AgentDigest.
var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// AgentImageRef returns the agent image reference: AgentImage when set at link
// time, otherwise AgentRepository tagged with this build's Version, which is
// the tag that release builds push, pinned with "@"+AgentDigest when the
// build has one (a digest of another form is left out).
func AgentImageRef() string {
	if AgentImage != "" {
		return AgentImage
	}
	ref := AgentRepository + ":" + Version
	if digestRE.MatchString(AgentDigest) {
		ref += "@" + AgentDigest
	}
	return ref
}

// AgentSkew compares the client's version with the agent image it is about to
// run (a full reference such as "ghcr.io/meshinsight/meshinsight-agent:v0.2.1",
// or just its tag). It returns "" when they are compatible: equal, or releases
// that differ only in the patch number. It returns a line starting "Warning:"
// when two releases differ in major or minor version, since the agent's
// profile format and flags may have changed, and a line starting "Note:" when
// either side is a development build (dev, git describe output, -dirty, an
// untagged or digest-only reference), whose compatibility can't be told from
// the version.
func AgentSkew(clientVersion, agentImage string) string {
	tag := imageTag(agentImage)
	if tag == clientVersion && tag != "" && !isDev(tag) {
		return ""
	}
	if tag == "" {
		return fmt.Sprintf("Note: agent image %q has no version tag; cannot check it against client %s", agentImage, clientVersion)
	}
	c, cok := parseRelease(clientVersion)
	a, aok := parseRelease(tag)
	if !cok || !aok {
		if tag == clientVersion {
			return fmt.Sprintf("Note: client and agent image are development builds (%s); make sure the agent image was built from the same commit", tag)
		}
		return fmt.Sprintf("Note: client %s and agent image %s: a development build is involved, so compatibility is not checked", clientVersion, tag)
	}
	if c.major != a.major || c.minor != a.minor {
		return fmt.Sprintf("Warning: client %s and agent image %s differ in major or minor version, so the agent's flags and profile format may not match: profile with --image %s:%s, or use a plugin of version %s",
			clientVersion, tag, AgentRepository, clientVersion, tag)
	}
	return ""
}

// imageTag returns the tag of an image reference ("repo:tag", "repo:tag@sha256:…"),
// ref itself when it is a bare tag, and "" when ref has no tag.
func imageTag(ref string) string {
	if !strings.ContainsAny(ref, ":/@") {
		return ref // a bare tag, as AgentSkew accepts
	}
	return imageref.Parse(ref).Tag
}

// release is a parsed vMAJOR.MINOR.PATCH[-PRERELEASE][+BUILD].
type release struct {
	major, minor, patch int
}

var (
	semverRE = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$`)
	// describeRE matches what `git describe --tags --dirty` appends to a tag
	// when HEAD is past it or the tree has changes: "-3-gabc1234", "-dirty".
	describeRE = regexp.MustCompile(`(^|-)(\d+-g[0-9a-f]{4,}(-dirty)?|dirty)$`)
)

// parseRelease parses a release version; it reports false for anything else,
// including semver-shaped git describe output, which is a development build.
func parseRelease(v string) (release, bool) {
	m := semverRE.FindStringSubmatch(v)
	if m == nil || isDev(v) {
		return release{}, false
	}
	var r release
	r.major, _ = strconv.Atoi(m[1])
	r.minor, _ = strconv.Atoi(m[2])
	r.patch, _ = strconv.Atoi(m[3])
	return r, true
}

// isDev reports whether v names a development build rather than a release tag.
func isDev(v string) bool {
	return v == "dev" || describeRE.MatchString(v) || !semverRE.MatchString(v)
}
