package printers

import (
	"bytes"
	"strings"
	"testing"
)

func TestPrintEdgeRows(t *testing.T) {
	r := whatIfReport()
	var with, without, names bytes.Buffer
	if err := PrintEdgeRows(&with, r, false, false); err != nil {
		t.Fatal(err)
	}
	if err := PrintEdgeRows(&without, r, false, true); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(with.String(), "\n"), "\n")
	if !strings.HasPrefix(lines[0], "EDGE ") || len(lines) != len(r.Baseline.Edges)+1 {
		t.Errorf("edge rows with headers:\n%s", with.String())
	}
	if without.String() != strings.Join(lines[1:], "\n")+"\n" {
		t.Errorf("--no-headers:\n%s", without.String())
	}
	if err := PrintNames(&names, r); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(names.String(), "edge/"); got != len(r.Baseline.Edges) || !strings.HasPrefix(names.String(), "edge/"+r.Baseline.Edges[0].Name()+"\n") {
		t.Errorf("-o name:\n%s", names.String())
	}
}
