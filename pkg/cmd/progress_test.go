package cmd

import (
	"strings"
	"testing"
)

// Issue #13 items 12 and 17: phases and cell messages quote the cluster and
// the agent (pod states, the agent's own words): escaped on the terminal.
func TestProgressEscapesWhatItQuotes(t *testing.T) {
	var b strings.Builder
	p := newProgress(&b, false)
	p.Phase("waiting for pod x\x1b]0;pwned\x07")
	p.Update(1, 3, "cell 1\x1b[2J")
	if out := b.String(); strings.ContainsAny(out, "\x1b\x07") || !strings.Contains(out, `x\x1b]0;pwned\x07`) || !strings.Contains(out, `cell 1\x1b[2J`) {
		t.Errorf("progress wrote %q", out)
	}
}
