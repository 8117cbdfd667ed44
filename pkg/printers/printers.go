// Package printers renders reports for people (kubectl-style tables), for
// programs (JSON, YAML) and for Graphviz (dot): graph predictions (Print),
// trace predictions (PrintTraces) and the validation's measured-vs-predicted
// report (PrintValidation). It is the only package that knows how a report
// looks on screen: every table goes through one table helper and every
// figure through one set of humanizers (µs, millicores, bytes, rates,
// shares).
package printers

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
)

// Format is an output format, as given to -o.
type Format string

// The output formats.
const (
	// Table is the default: kubectl-style tables of edges, proxies and paths.
	Table Format = "table"
	// Wide is Table plus data-plane modes and a per-component breakdown.
	Wide Format = "wide"
	// JSON is the report as indented JSON.
	JSON Format = "json"
	// YAML is the report as YAML, with the same field names as JSON.
	YAML Format = "yaml"
	// Dot is a Graphviz digraph of the call graph coloured by added latency.
	Dot Format = "dot"
	// SVG is a self-contained picture of the call graph (no Graphviz needed).
	SVG Format = "svg"
	// HTML is the SVG picture in an HTML page.
	HTML Format = "html"
)

// Formats lists every format, default first.
var Formats = []Format{Table, Wide, JSON, YAML, Dot, SVG, HTML}

// FormatNames returns the names of Formats, for flag help and completion.
func FormatNames() []string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return names
}

// ErrUnknownFormat is returned (wrapped) for a format that is not one of Formats.
var ErrUnknownFormat = errors.New("unknown output format")

// ParseFormat returns the Format spelled s; the empty string means Table.
func ParseFormat(s string) (Format, error) {
	if s == "" {
		return Table, nil
	}
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("%w %q: want one of %s", ErrUnknownFormat, s, strings.Join(FormatNames(), ", "))
}

// Print writes r to w in format; the empty format means Table. The report
// is checked first (every figure finite and non-negative, the variant's
// edges in line with the baseline's), so that nothing is written if it
// cannot be rendered; then it is written as it is encoded, never held whole
// in memory. Names from the input are escaped in tables (see safetext).
func Print(w io.Writer, r *predict.Report, format Format) error {
	if r == nil {
		return errors.New("no report to print")
	}
	if _, err := ParseFormat(string(format)); err != nil {
		return err
	}
	if err := r.Check(); err != nil {
		return err
	}
	if r.Variant != nil {
		if err := checkVariant(r); err != nil {
			return err
		}
	}
	return buffered(w, func(bw *bufio.Writer) error {
		switch format {
		case Wide:
			return printTable(bw, r, true)
		case JSON:
			return printJSON(bw, r)
		case YAML:
			return printYAML(bw, r)
		case Dot:
			return printDot(bw, r)
		case SVG:
			return printSVG(bw, r)
		case HTML:
			return printHTML(bw, r)
		}
		return printTable(bw, r, false)
	})
}

// buffered runs print on a buffer in front of w and flushes it only if print
// succeeds.
func buffered(w io.Writer, print func(*bufio.Writer) error) error {
	bw := bufio.NewWriterSize(w, writeBuffer)
	if err := print(bw); err != nil {
		return err
	}
	return bw.Flush()
}

// writeBuffer is how much output is gathered before it is written.
const writeBuffer = 64 << 10
