package printers

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestRenderersAgree renders the same tables with tablewriter and with
// text/tabwriter (the large-table path): the bytes must be the same, so
// that the row count never changes what a user sees.
func TestRenderersAgree(t *testing.T) {
	tables := []*table{
		{head: []string{"EDGE", "PROTO", "+P50", "CPU"}},
		{gap: 2, head: []string{"KIND", "NAME", "METRIC"}},
	}
	for i := range 50 {
		tables[0].rows = append(tables[0].rows, []string{fmt.Sprintf("ns/w%d->ns/w%d", i, i*7), "http", fmt.Sprintf("%dµs", i*13), "-"})
		tables[1].rows = append(tables[1].rows, []string{"edge", strings.Repeat("x", i%9), "p50 µs"})
	}
	tables[0].rows = append(tables[0].rows, []string{"ns/ünïcödé->ns/b", "", "1.0ms", "12m"})
	for i, tb := range tables {
		var a, b bytes.Buffer
		if err := tb.alignTablewriter(&a); err != nil {
			t.Fatal(err)
		}
		if err := tb.alignTabwriter(&b); err != nil {
			t.Fatal(err)
		}
		trim := func(s string) string {
			var out []string
			for _, l := range strings.Split(s, "\n") {
				out = append(out, strings.TrimRight(l, " "))
			}
			return strings.Join(out, "\n")
		}
		if trim(a.String()) != trim(b.String()) {
			t.Errorf("table %d: tablewriter and tabwriter differ:\n%s\n---\n%s", i, a.String(), b.String())
		}
	}
}
