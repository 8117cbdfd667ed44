package printers

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// Width is the terminal width the default table output fits, as kubectl's
// does; -o wide is not held to it.
const Width = 80

// fitDrop lists the columns a table leaves out, in this order, until it
// fits its width: detail before figures, a what-if's baseline before its
// variant and delta. -o wide shows them all.
var fitDrop = []string{
	"TOP", "REQ/RESP", "RPS/REPLICA", "MEM/REPLICA", "CALLS", "REPLICAS", "CPU LIMIT",
	"+P50 BASE", "+P99 BASE", "CPU BASE", "MEMORY BASE", "MTLS", "KIND", "PROTO", "RPS",
	"CRITICAL PATH (WHAT-IF)", "CRITICAL PATH", "+P99 WHAT-IF", "CPU WHAT-IF", "MEMORY WHAT-IF", "+P50 WHAT-IF",
}

// table returns an empty table that fits Width unless the view is wide.
func (v *view) table() *table {
	if v.wide {
		return &table{}
	}
	return &table{width: Width}
}

// fit leaves out columns of fitDrop until the table's lines are at most
// t.width runes wide (when it is set).
func (t *table) fit() {
	if t.width <= 0 {
		return
	}
	for _, name := range fitDrop {
		if t.lineWidth() <= t.width {
			return
		}
		if i := slices.Index(t.head, name); i >= 0 {
			t.head = slices.Delete(t.head, i, i+1)
			for r := range t.rows {
				if i < len(t.rows[r]) {
					t.rows[r] = slices.Delete(t.rows[r], i, i+1)
				}
			}
		}
	}
}

// lineWidth is the width of the table's widest line as rendered: each
// column as wide as its widest cell, gap spaces between columns.
func (t *table) lineWidth() int {
	widths := make([]int, len(t.head))
	for _, r := range append([][]string{t.head}, t.rows...) {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(c))
			}
		}
	}
	total := 0
	for _, w := range widths {
		total += w
	}
	gap := t.gap
	if gap == 0 {
		gap = 3
	}
	return total + gap*max(len(widths)-1, 0)
}

// joinFit joins parts with sep, starting a new line (indented by indent)
// instead of a part that would take the line past width.
func joinFit(parts []string, sep string, width int, indent string) string {
	var b strings.Builder
	line := 0
	for i, p := range parts {
		switch {
		case i == 0:
		case line+utf8.RuneCountInString(sep+p) > width:
			b.WriteString(strings.TrimRight(sep, " ") + "\n" + indent)
			line = utf8.RuneCountInString(indent)
		default:
			b.WriteString(sep)
			line += utf8.RuneCountInString(sep)
		}
		b.WriteString(p)
		line += utf8.RuneCountInString(p)
	}
	return b.String()
}

// wrap breaks s at spaces into lines of at most width runes, each after the
// first starting with indent; a word longer than a line stays whole.
func wrap(s string, width int, indent string) string {
	words := strings.Fields(s)
	lead := s[:len(s)-len(strings.TrimLeft(s, " "))]
	for i := range words {
		if i == 0 {
			words[i] = lead + words[i]
		}
	}
	return joinFit(words, " ", width, indent)
}
