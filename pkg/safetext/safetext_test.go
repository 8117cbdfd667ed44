package safetext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Issue #13 items 12 and 17: nothing from input reaches the terminal as a
// control sequence.
func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"productpage-v1":        "productpage-v1",
		"café µs Δ →":           "café µs Δ →",
		"a\x1b[31mred\x1b[0m":   `a\x1b[31mred\x1b[0m`,
		"title\x1b]0;pwned\x07": `title\x1b]0;pwned\x07`,
		"line\nbreak\ttab\r":    `line\x0abreak\x09tab\x0d`,
		"del\x7f":               `del\x7f`,
		"c1 \u009b31m":          `c1 \x9b31m`,
		"bidi \u202egnp.exe":    `bidi \u202egnp.exe`,
		"zero\u200bwidth\ufeff": `zero\u200bwidth\ufeff`,
		"bad utf8 \xff\xfe":     `bad utf8 \xff\xfe`,
		"":                      "",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLine(t *testing.T) {
	long := strings.Repeat("é", 500)
	got := Line(long, 100)
	if n := utf8.RuneCountInString(got); n != 100 || !strings.HasSuffix(got, "…") {
		t.Errorf("%d runes, ends %q", n, got[len(got)-4:])
	}
	if got := Line("short\x1b", 100); got != `short\x1b` {
		t.Errorf("%q", got)
	}
}

func TestTextKeepsLines(t *testing.T) {
	in := "invalid call graph:\n\tedges[0]: unknown workload \"a\x1b[2J\""
	want := "invalid call graph:\n\tedges[0]: unknown workload \"a\\x1b[2J\""
	if got := Text(in); got != want {
		t.Errorf("Text(%q) = %q, want %q", in, got, want)
	}
}
