package printers

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// largeTable is the row count above which tables are aligned by
// text/tabwriter instead of tablewriter: tablewriter spends about 40 µs a
// row (4 s for the 100,000 edges of the large benchmark graph), tabwriter
// 2 µs. Both give the same bytes (TestRenderersAgree); tables people read
// stay on tablewriter.
const largeTable = 2000

// render writes the table, columns left-aligned and separated by the gap
// (3 spaces unless set), no borders, trailing spaces trimmed.
func (t *table) render(w io.Writer) error {
	t.fit()
	var buf bytes.Buffer
	var err error
	if len(t.rows) > largeTable {
		err = t.alignTabwriter(&buf)
	} else {
		err = t.alignTablewriter(&buf)
	}
	if err != nil {
		return fmt.Errorf("rendering table: %w", err)
	}
	for _, l := range strings.SplitAfter(buf.String(), "\n") {
		if l == "" {
			continue
		}
		if _, err := io.WriteString(w, strings.TrimRight(l, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// alignTablewriter lays the table out with tablewriter.
func (t *table) alignTablewriter(buf *bytes.Buffer) error {
	cell := tw.CellConfig{
		Formatting: tw.CellFormatting{AutoFormat: tw.Off, AutoWrap: tw.WrapNone},
		Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
		Padding:    tw.CellPadding{Global: tw.Padding{Right: strings.Repeat(" ", cmp.Or(t.gap, 3)), Overwrite: true}},
	}
	tbl := tablewriter.NewTable(buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Symbols:  tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{Lines: tw.LinesNone, Separators: tw.SeparatorsNone},
		})),
		tablewriter.WithConfig(tablewriter.Config{Header: cell, Row: cell}),
	)
	tbl.Header(t.head)
	for _, r := range t.rows {
		if err := tbl.Append(r); err != nil {
			return err
		}
	}
	return tbl.Render()
}

// alignTabwriter lays the table out with text/tabwriter (widths in runes).
func (t *table) alignTabwriter(buf *bytes.Buffer) error {
	tab := tabwriter.NewWriter(buf, 0, 8, cmp.Or(t.gap, 3), ' ', 0)
	line := func(cells []string) {
		for i, c := range cells {
			if i > 0 {
				_, _ = io.WriteString(tab, "\t")
			}
			_, _ = io.WriteString(tab, c)
		}
		_, _ = io.WriteString(tab, "\n")
	}
	line(t.head)
	for _, r := range t.rows {
		line(r)
	}
	return tab.Flush()
}
