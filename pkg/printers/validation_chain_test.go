package printers

import (
	"bytes"
	"strings"
	"testing"
)

// TestPrintValidationChain checks that a report names its chain and setup
// under the profile line, and that a report without one prints as before.
func TestPrintValidationChain(t *testing.T) {
	r := validationReport(t)
	var plain bytes.Buffer
	if err := PrintValidation(&plain, r); err != nil {
		t.Fatal(err)
	}
	r.Chain, r.Setup = "diamond", "haproxy sidecars: 2 worker thread(s)"
	var buf bytes.Buffer
	if err := PrintValidation(&buf, r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	if lines[1] != "chain diamond: haproxy sidecars: 2 worker thread(s)" {
		t.Errorf("second line %q, want the chain and its setup", lines[1])
	}
	if got := strings.Join(append(lines[:1:1], lines[2:]...), "\n"); got != plain.String() {
		t.Errorf("the chain line changed the rest of the output:\n%s", buf.String())
	}
}
