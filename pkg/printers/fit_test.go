package printers

import (
	"strings"
	"testing"
)

func TestFitDropsDetailFirst(t *testing.T) {
	tb := &table{width: 30}
	tb.header("EDGE", "PROTO", "TOP", "+P50")
	tb.row("frontend -> catalog", "http", "parsing", "180µs")
	tb.fit()
	if got := strings.Join(tb.head, ","); got != "EDGE,+P50" {
		t.Errorf("columns after fit: %s", got)
	}
	if tb.lineWidth() > 30 || len(tb.rows[0]) != 2 || tb.rows[0][1] != "180µs" {
		t.Errorf("fit left %d columns wide, rows %v", tb.lineWidth(), tb.rows)
	}
	wide := &table{}
	wide.header("EDGE", "TOP")
	wide.row(strings.Repeat("x", 90), "parsing")
	if wide.fit(); len(wide.head) != 2 {
		t.Error("a table without width lost columns")
	}
}

func TestWrap(t *testing.T) {
	got := wrap("  Info [MI0007] (ref) predictions use the embedded reference profile", 30, "    ")
	want := "  Info [MI0007] (ref)\n    predictions use the\n    embedded reference profile"
	if got != want {
		t.Errorf("wrap =\n%s\nwant\n%s", got, want)
	}
	if got := joinFit([]string{"Totals: 6 edges", "CPU 93.5m", "memory 87Mi"}, ", ", 28, "  "); got != "Totals: 6 edges, CPU 93.5m,\n  memory 87Mi" {
		t.Errorf("joinFit = %q", got)
	}
}
