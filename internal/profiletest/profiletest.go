// Package profiletest builds profiles for tests: the embedded reference
// profile dressed up as one measured on a node type, as `kubectl
// meshinsight profile` stores them.
package profiletest

import (
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// Measured returns the reference profile named "measured-NODETYPE", not
// marked as the reference, with provenance node type nodeType.
func Measured(t testing.TB, nodeType string) *profile.Profile {
	t.Helper()
	p, err := profile.Reference()
	if err != nil {
		t.Fatal(err)
	}
	p.Metadata.Reference = false
	p.Metadata.Name = "measured-" + nodeType
	p.Provenance.Platform.NodeType = nodeType
	return p
}
