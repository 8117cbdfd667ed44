// Package printers renders reports for people (kubectl-style tables), for
// programs (JSON, YAML) and for Graphviz (dot): graph predictions (Print),
// trace predictions (PrintTraces) and the validation's measured-vs-predicted
// report (PrintValidation). It is the only package that knows how a report
// looks on screen: every table goes through one table helper and every
// figure through one set of humanizers (µs, millicores, bytes, rates,
// shares).
package printers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	sigsyaml "sigs.k8s.io/yaml"

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

// Print writes r to w in format; the empty format means Table. Nothing is written
// if the report cannot be rendered.
func Print(w io.Writer, r *predict.Report, format Format) error {
	if r == nil {
		return errors.New("no report to print")
	}
	var buf bytes.Buffer
	var err error
	switch format {
	case Table, "":
		err = printTable(&buf, r, false)
	case Wide:
		err = printTable(&buf, r, true)
	case JSON:
		err = printJSON(&buf, r)
	case YAML:
		err = printYAML(&buf, r)
	case Dot:
		err = printDot(&buf, r)
	case SVG:
		err = printSVG(&buf, r)
	case HTML:
		err = printHTML(&buf, r)
	default:
		_, err = ParseFormat(string(format))
	}
	if err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// printJSON writes any report as indented JSON.
func printJSON(buf *bytes.Buffer, r any) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding report as JSON: %w", err)
	}
	buf.Write(data)
	buf.WriteByte('\n')
	return nil
}

// printYAML writes any report as YAML, with the JSON field names.
func printYAML(buf *bytes.Buffer, r any) error {
	data, err := sigsyaml.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding report as YAML: %w", err)
	}
	buf.Write(data)
	return nil
}
