package printers

import (
	"bytes"
	"io"
	"strings"
)

// ANSI colours for messages on a terminal.
const (
	ansiYellow = "\x1b[33m"
	ansiReset  = "\x1b[0m"
)

// WarningColour writes table output through to w with every Warning
// message of "Assumptions and warnings" (its wrapped continuation lines
// too) in yellow, for a terminal. Callers decide whether w is one and
// whether NO_COLOR is set; Flush writes a last line without a newline.
type WarningColour struct {
	w       io.Writer
	partial []byte
	warning bool
}

// NewWarningColour colours the warnings of what is written to w.
func NewWarningColour(w io.Writer) *WarningColour { return &WarningColour{w: w} }

// Write implements io.Writer, line by line.
func (c *WarningColour) Write(p []byte) (int, error) {
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		if err := c.line(string(c.partial[:i])); err != nil {
			return 0, err
		}
		if _, err := io.WriteString(c.w, "\n"); err != nil {
			return 0, err
		}
		c.partial = c.partial[i+1:]
	}
}

// Flush writes what is left of an unfinished line.
func (c *WarningColour) Flush() error {
	if len(c.partial) == 0 {
		return nil
	}
	err := c.line(string(c.partial))
	c.partial = nil
	return err
}

// line writes one line, coloured when it is (part of) a warning: a
// message line ("  Warning [MI…]") starts one, its continuation lines
// (indented further) keep it, anything else ends it.
func (c *WarningColour) line(l string) error {
	switch {
	case strings.HasPrefix(l, "  Warning ["):
		c.warning = true
	case strings.HasPrefix(l, "    ") && c.warning:
	default:
		c.warning = false
	}
	if c.warning {
		l = ansiYellow + l + ansiReset
	}
	_, err := io.WriteString(c.w, l)
	return err
}
