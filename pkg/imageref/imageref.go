// Package imageref splits container image references
// ("[registry[:port]/]path[:tag][@digest]") into their parts. It is the one
// place the CLI and the agent read a tag from an image: Istio's version from
// istiod's image, the agent image's version for the skew check, the proxy
// version a profile records.
package imageref

import "strings"

// Latest is the tag a container runtime pulls when a reference names
// neither a tag nor a digest.
const Latest = "latest"

// Ref is an image reference split into its parts.
type Ref struct {
	// Repository is [registry[:port]/]path, without tag or digest.
	Repository string
	// Tag is the tag the reference names; "" when it names none.
	Tag string
	// Digest is the digest the reference names ("sha256:…"); "" when none.
	Digest string
}

// Parse splits ref. A ':' before the last '/' belongs to a registry port
// ("localhost:5000/agent" has no tag); nothing is defaulted, so a reference
// without a tag has Tag "" (see PulledTag).
func Parse(ref string) Ref {
	var r Ref
	ref, r.Digest, _ = strings.Cut(ref, "@")
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		ref, r.Tag = ref[:i], ref[i+1:]
	}
	r.Repository = ref
	return r
}

// PulledTag is the tag a container runtime pulls: Tag, or Latest when the
// reference names neither a tag nor a digest. A digest-only reference has
// no tag: "".
func (r Ref) PulledTag() string {
	if r.Tag == "" && r.Digest == "" {
		return Latest
	}
	return r.Tag
}

// Sibling is the image named name in the same registry and directory,
// with r's pulled tag: istiod's image "docker.io/istio/pilot:1.28.1" has
// the sibling "docker.io/istio/proxyv2:1.28.1". r's digest is dropped: it
// names r's image, not the sibling.
func (r Ref) Sibling(name string) Ref {
	dir := r.Repository[:strings.LastIndex(r.Repository, "/")+1]
	return Ref{Repository: dir + name, Tag: r.PulledTag()}
}

// String renders the reference: repository, then ":tag" and "@digest" when
// set.
func (r Ref) String() string {
	s := r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}
