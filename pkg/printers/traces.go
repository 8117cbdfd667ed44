package printers

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
	"github.com/meshinsight/kubectl-meshinsight/pkg/safetext"
)

// PrintTraces writes a trace-based prediction as tables (wide adds the
// component breakdown), JSON or YAML. Nothing is written if it cannot be
// rendered; dot is refused (traces have no graph to draw).
func PrintTraces(w io.Writer, r *predict.TraceReport, format Format) error {
	switch format {
	case Table, Wide, "", JSON, YAML:
	default:
		return fmt.Errorf("-o %s is not available with traces; use table, wide, json or yaml", format)
	}
	if err := r.Check(); err != nil {
		return err
	}
	return buffered(w, func(bw *bufio.Writer) error {
		switch format {
		case JSON:
			return printJSON(bw, r)
		case YAML:
			return printYAML(bw, r)
		}
		return traceView{r: r, wide: format == Wide}.print(bw)
	})
}

// traceView renders a trace report as kubectl-style tables.
type traceView struct {
	r    *predict.TraceReport
	wide bool
}

func (v traceView) print(buf io.Writer) error {
	r := v.r
	fmt.Fprintln(buf, safetext.Escape(fmt.Sprintf("%s   Traces: %s (%d traces, %d spans, %d requests over %s)", profileLabel(r.Profile), r.Source,
		r.Traces, r.Spans, r.Requests, micros(r.WindowSeconds*1e6))))
	variant := len(r.WhatIf) > 0
	if variant {
		whatIfLine(buf, r.Header())
	}
	fmt.Fprintln(buf, "\nOperations (added latency along each request's critical path):")
	if err := v.operations(variant).render(buf); err != nil {
		return err
	}
	fmt.Fprintln(buf, "\nCalls on the critical path:")
	if calls := v.calls(variant); len(calls.rows) == 0 {
		fmt.Fprintln(buf, "No calls between services on any critical path.")
	} else if err := calls.render(buf); err != nil {
		return err
	}
	if comps := v.components(variant); v.wide && len(comps.rows) > 0 {
		fmt.Fprintln(buf, "\nComponents:")
		if err := comps.render(buf); err != nil {
			return err
		}
	}
	messages(buf, r.Header())
	return nil
}

// operations is the table of root operations.
func (v traceView) operations(variant bool) *table {
	t := &table{}
	if !variant {
		t.header("OPERATION", "TRACES", "E2E P50", "E2E P99", "+P50", "+P99", "SHARE P50", "TOP COMPONENTS")
		for _, op := range v.r.Operations {
			t.row(op.Name(), fmt.Sprint(op.Traces), micros(op.MeasuredP50Micros), micros(op.MeasuredP99Micros),
				micros(op.Baseline.LatencyP50Micros), micros(op.Baseline.LatencyP99Micros), percent(op.Baseline.ShareP50), topComponents(op.Baseline))
		}
		return t
	}
	t.header("OPERATION", "TRACES", "E2E P50", "+P50 BASE", "+P50 WHAT-IF", "Δ P50", "+P99 BASE", "+P99 WHAT-IF", "SHARE BASE", "SHARE WHAT-IF")
	for _, op := range v.r.Operations {
		b, w := op.Baseline, op.Variant
		t.row(op.Name(), fmt.Sprint(op.Traces), micros(op.MeasuredP50Micros),
			micros(b.LatencyP50Micros), micros(w.LatencyP50Micros), signedMicros(w.LatencyP50Micros-b.LatencyP50Micros),
			micros(b.LatencyP99Micros), micros(w.LatencyP99Micros), percent(b.ShareP50), percent(w.ShareP50))
	}
	return t
}

// calls is the table of the calls on each operation's critical path.
func (v traceView) calls(variant bool) *table {
	t := &table{}
	if !variant {
		t.header("OPERATION", "CALL", "PROTO", "MTLS", "PER REQUEST", "REQ/RESP", "+P50/CALL", "+P99/CALL", "TOP")
	} else {
		t.header("OPERATION", "CALL", "PROTO", "MTLS", "PER REQUEST", "+P50/CALL BASE", "+P50/CALL WHAT-IF", "Δ P50")
	}
	for _, op := range v.r.Operations {
		for _, c := range op.Calls {
			e := c.Edge
			row := []string{op.Name(), c.From + " -> " + c.To, string(e.Protocol), onOff(e.MTLS), calls(c.PerRequest)}
			switch {
			case !variant:
				row = append(row, byteSize(e.RequestBytes)+"/"+byteSize(e.ResponseBytes), micros(e.LatencyP50Micros), micros(e.LatencyP99Micros), orDash(e.TopComponent))
			case c.VariantEdge != nil:
				w := c.VariantEdge
				row[2], row[3] = change(e.Protocol, w.Protocol), change(onOff(e.MTLS), onOff(w.MTLS))
				row = append(row, micros(e.LatencyP50Micros), micros(w.LatencyP50Micros), signedMicros(w.LatencyP50Micros-e.LatencyP50Micros))
			default:
				row = append(row, micros(e.LatencyP50Micros), "-", "-")
			}
			t.row(row...)
		}
	}
	return t
}

// components is the wide table of each operation's added latency by
// component.
func (v traceView) components(variant bool) *table {
	t := &table{}
	if !variant {
		t.header("OPERATION", "COMPONENT", "+P50", "+P99", "SHARE OF +P50")
	} else {
		t.header("OPERATION", "COMPONENT", "+P50 BASE", "+P50 WHAT-IF", "Δ P50")
	}
	for _, op := range v.r.Operations {
		for _, c := range op.Baseline.Components {
			if !variant {
				t.row(op.Name(), c.Component, micros(c.LatencyP50Micros), micros(c.LatencyP99Micros),
					percent(c.LatencyP50Micros/op.Baseline.LatencyP50Micros))
				continue
			}
			wc, _ := findComponent(op.Variant.Components, c.Component)
			t.row(op.Name(), c.Component, micros(c.LatencyP50Micros), micros(wc.LatencyP50Micros), signedMicros(wc.LatencyP50Micros-c.LatencyP50Micros))
		}
	}
	return t
}

// topComponents names the components adding the most p50 latency, with
// their share.
func topComponents(a predict.AddedLatency) string {
	if len(a.Components) == 0 || a.LatencyP50Micros <= 0 {
		return "-"
	}
	var parts []string
	for _, c := range a.Components[:min(3, len(a.Components))] {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", c.Component, 100*c.LatencyP50Micros/a.LatencyP50Micros))
	}
	return strings.Join(parts, ", ")
}
