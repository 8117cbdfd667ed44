// Package safetext makes text from untrusted sources safe to print on a
// terminal: workload and span names from files and traces, metric labels,
// the profiling agent's progress lines. Control characters (C0, DEL, C1) and
// the Unicode marks that reorder or hide text (bidirectional overrides,
// zero-width characters) are written as Go escapes (\x1b, \u202e), so that
// no input can move the cursor, change colours, set the window title or
// hide text on the screen of the person reading the output, as in kubectl's
// CVE-2021-25743.
package safetext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape returns s with every unsafe character escaped, and invalid UTF-8
// bytes as \xNN; s itself when there is nothing to escape.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafe(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Text is Escape for text of several lines (an error listing problems):
// newlines and tabs are kept.
func Text(s string) string {
	if !strings.ContainsAny(s, "\n\t") {
		return Escape(s)
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		parts := strings.Split(l, "\t")
		for j, p := range parts {
			parts[j] = Escape(p)
		}
		lines[i] = strings.Join(parts, "\t")
	}
	return strings.Join(lines, "\n")
}

// Line escapes s (see Escape) and cuts it to at most maxRunes runes of
// output, marking a cut with "…": for one-line messages from a source that
// could otherwise flood the screen.
func Line(s string, maxRunes int) string {
	s = Escape(s)
	if utf8.RuneCountInString(s) <= maxRunes {
		return s
	}
	cut, n := 0, 0
	for i := range s {
		if n == maxRunes-1 {
			cut = i
			break
		}
		n++
	}
	return s[:cut] + "…"
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			return !safeUTF8(s[i:])
		}
	}
	return false
}

// safeUTF8 reports whether s holds only valid UTF-8 without unsafe runes.
func safeUTF8(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || unsafe(r) {
			return false
		}
	}
	return utf8.ValidString(s)
}

// unsafe reports runes that control a terminal or hide or reorder text.
func unsafe(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0: // C0, DEL, C1
		return true
	case r == 0x200b || r == 0x200c || r == 0x200d || r == 0x200e || r == 0x200f: // zero width, LRM, RLM
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // bidi embeddings, overrides, isolates
		return true
	case r == 0xfeff: // zero-width no-break space
		return true
	}
	return false
}
