package printers

import (
	"bytes"
	"strings"
	"testing"
)

func TestWarningColour(t *testing.T) {
	in := "Edges:\nEDGE   +P50\n\nAssumptions and warnings:\n  Info [MI0001] (a) default\n  Warning [MI0002] (b) mtls requested\n    but the server has no proxy\n  Info [MI0007] (c) reference\n    profile"
	var out bytes.Buffer
	c := NewWarningColour(&out)
	// Written in pieces that split lines, as a buffered printer may.
	for _, part := range []string{in[:17], in[17:90], in[90:]} {
		if _, err := c.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(out.String(), "\n")
	want := map[int]bool{5: true, 6: true} // the warning and its continuation
	for i, l := range got {
		coloured := strings.HasPrefix(l, ansiYellow) && strings.HasSuffix(l, ansiReset)
		if coloured != want[i] {
			t.Errorf("line %d %q: coloured %v, want %v", i, l, coloured, want[i])
		}
	}
	plain := strings.NewReplacer(ansiYellow, "", ansiReset, "").Replace(out.String())
	if plain != in {
		t.Errorf("text changed besides colour:\n%q\nwant\n%q", plain, in)
	}
}
