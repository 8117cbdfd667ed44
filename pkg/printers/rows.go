package printers

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
)

// PrintEdgeRows writes only the edges table of r, as Table or Wide (wide)
// shows it, without its section heading and, with noHeaders, without its
// column headers: what a script reads (kubectl's --no-headers). Nothing is
// written for a report without edges.
func PrintEdgeRows(w io.Writer, r *predict.Report, wide, noHeaders bool) error {
	if len(r.Baseline.Edges) == 0 {
		return nil
	}
	v := &view{r: r, wide: wide, ns: commonNamespace(r)}
	if r.Variant != nil {
		if err := checkVariant(r); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	if err := v.edges(&buf); err != nil {
		return err
	}
	lines := strings.SplitAfter(strings.TrimPrefix(buf.String(), "\nEdges:\n"), "\n")
	if noHeaders {
		lines = lines[1:]
	}
	if _, err := io.WriteString(w, strings.Join(lines, "")); err != nil {
		return fmt.Errorf("writing edges: %w", err)
	}
	return nil
}

// PrintNames writes one line per edge of r, edge/FROM->TO, in the report's
// order (kubectl's -o name).
func PrintNames(w io.Writer, r *predict.Report) error {
	var buf bytes.Buffer
	for _, e := range r.Baseline.Edges {
		fmt.Fprintf(&buf, "edge/%s\n", e.Name())
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("writing names: %w", err)
	}
	return nil
}
