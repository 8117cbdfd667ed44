package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
	"github.com/meshinsight/kubectl-meshinsight/pkg/printers"
	"github.com/meshinsight/kubectl-meshinsight/pkg/traces"
)

// traceOptions are the flags of `predict --traces` and `predict --jaeger-url`.
type traceOptions struct {
	Path      string
	JaegerURL string
	Service   string
	Operation string
	Lookback  time.Duration
	Limit     int

	// Set by complete.
	summary *traces.Summary
	source  string
}

// jaegerTimeout bounds one query to the Jaeger query service.
const jaegerTimeout = 2 * time.Minute

func newTraceOptions() traceOptions {
	return traceOptions{Lookback: time.Hour, Limit: 100}
}

func (t *traceOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&t.Path, "traces", "", "Distributed traces (Jaeger, Zipkin v2 or OTLP JSON; a file or a directory of .json files): predict the overhead along each operation's critical path")
	f.StringVar(&t.JaegerURL, "jaeger-url", "", "Read traces from this Jaeger query service (e.g. http://localhost:16686); needs --service")
	f.StringVar(&t.Service, "service", "", "With --traces or --jaeger-url: analyse the requests entering this service")
	f.StringVar(&t.Operation, "operation", "", "With --traces or --jaeger-url: only requests of this operation")
	f.DurationVar(&t.Lookback, "lookback", t.Lookback, "With --jaeger-url: how far back to search for traces")
	f.IntVar(&t.Limit, "limit", t.Limit, "With --jaeger-url: the most traces to read")
}

// enabled reports whether the prediction runs on traces.
func (t *traceOptions) enabled() bool { return t.Path != "" || t.JaegerURL != "" }

// validateTraces checks the trace flags against the others, without I/O.
func (o *PredictOptions) validateTraces() error {
	t := &o.traces
	if !t.enabled() {
		if t.Service != "" || t.Operation != "" {
			return errors.New("--service and --operation select traces: give --traces FILE|DIR or --jaeger-url URL too")
		}
		return nil
	}
	switch {
	case t.Path != "" && t.JaegerURL != "":
		return errors.New("--traces and --jaeger-url are two sources of traces: give one")
	case o.live.AllNamespaces:
		return errors.New("-A reads the live cluster; it cannot be combined with --traces or --jaeger-url (use -f GRAPH for modes and mTLS)")
	case o.format == printers.Dot:
		return errors.New("-o dot is not available with traces; use table, wide, json or yaml")
	case t.JaegerURL != "" && t.Service == "":
		return errors.New("--jaeger-url needs --service: Jaeger searches traces by service")
	case t.Lookback <= 0 || t.Limit <= 0:
		return errors.New("--lookback and --limit must be positive")
	}
	if t.JaegerURL != "" {
		u, err := url.Parse(t.JaegerURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--jaeger-url %q: want e.g. http://localhost:16686", t.JaegerURL)
		}
	}
	return nil
}

// completeTraces reads the traces and computes their critical paths.
func (o *PredictOptions) completeTraces(ctx context.Context) error {
	t := &o.traces
	var set *traces.Set
	if t.Path != "" {
		var err error
		if set, err = traces.ReadPath(t.Path); err != nil {
			return err
		}
		t.source = t.Path
	} else {
		ctx, cancel := context.WithTimeout(ctx, jaegerTimeout)
		defer cancel()
		c := &traces.JaegerClient{BaseURL: t.JaegerURL, HTTPClient: &http.Client{}}
		spans, warns, err := c.Traces(ctx, traces.Query{Service: t.Service, Operation: t.Operation, Lookback: t.Lookback, Limit: t.Limit})
		if err != nil {
			return err
		}
		set = traces.Assemble(spans, warns)
		t.source = t.JaegerURL
	}
	if len(set.Traces) == 0 {
		return fmt.Errorf("no traces in %s", t.source)
	}
	t.summary = traces.Summarize(set, traces.Filter{Service: t.Service, Operation: t.Operation})
	if t.summary.Requests == 0 {
		return fmt.Errorf("none of the %d traces in %s has a request of %s: check --service and --operation", len(set.Traces), t.source, describeFilter(t.Service, t.Operation))
	}
	return nil
}

func describeFilter(service, operation string) string {
	switch {
	case service != "" && operation != "":
		return fmt.Sprintf("service %q, operation %q", service, operation)
	case service != "":
		return fmt.Sprintf("service %q", service)
	}
	return fmt.Sprintf("operation %q at the root", operation)
}

// runTraces predicts the overhead along the critical paths and prints it.
func (o *PredictOptions) runTraces() error {
	report, g, err := predict.PredictTraces(predict.TraceInput{
		Summary: o.traces.summary, Source: o.traces.source, Graph: o.graph,
		Profile: o.prof, ProfileSource: o.profSrc, WhatIf: o.whatIfs, Speedups: o.speedups,
	})
	if err != nil {
		return err
	}
	if o.ExportGraph != "" {
		if len(g.Edges) == 0 {
			return errors.New("--export-graph: the traces hold no calls between services, so there is no graph to write")
		}
		if err := writeGraph(o.ExportGraph, g); err != nil {
			return err
		}
	}
	return printTraceReport(o.Out, report, o.format)
}

// printTraceReport writes r as a table (wide adds the component breakdown), JSON
// or YAML. Nothing is written if it cannot be rendered.
func printTraceReport(w io.Writer, r *predict.TraceReport, format printers.Format) error {
	var buf bytes.Buffer
	switch format {
	case printers.Table, printers.Wide, "":
		v := traceView{r: r, wide: format == printers.Wide}
		v.print(&buf)
	case printers.JSON:
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding report as JSON: %w", err)
		}
		buf.Write(append(b, '\n'))
	case printers.YAML:
		b, err := sigsyaml.Marshal(r)
		if err != nil {
			return fmt.Errorf("encoding report as YAML: %w", err)
		}
		buf.Write(b)
	default:
		return fmt.Errorf("-o %s is not available with traces; use table, wide, json or yaml", format)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// traceView renders a trace report as kubectl-style tables.
type traceView struct {
	r    *predict.TraceReport
	wide bool
}

func (v traceView) print(buf *bytes.Buffer) {
	r := v.r
	head := "Profile: " + r.Profile.Name
	if r.Profile.Source != "" {
		head += " (" + r.Profile.Source + ")"
	}
	fmt.Fprintf(buf, "%s   Traces: %s (%d traces, %d spans, %d requests over %s)\n", head, r.Source, r.Traces, r.Spans, r.Requests,
		v.micros(r.WindowSeconds*1e6))
	variant := len(r.WhatIf) > 0
	if variant {
		fmt.Fprintln(buf, "What-if: "+strings.Join(r.WhatIf, "; "))
	}

	fmt.Fprintln(buf, "\nOperations (added latency along each request's critical path):")
	var rows [][]string
	if !variant {
		rows = append(rows, []string{"OPERATION", "TRACES", "E2E P50", "E2E P99", "+P50", "+P99", "SHARE P50", "TOP COMPONENTS"})
		for _, op := range r.Operations {
			rows = append(rows, []string{op.Name(), fmt.Sprint(op.Traces), v.micros(op.MeasuredP50Micros), v.micros(op.MeasuredP99Micros),
				v.micros(op.Baseline.LatencyP50Micros), v.micros(op.Baseline.LatencyP99Micros), v.percent(op.Baseline.ShareP50), v.top(op.Baseline)})
		}
	} else {
		rows = append(rows, []string{"OPERATION", "TRACES", "E2E P50", "+P50 BASE", "+P50 WHAT-IF", "Δ P50", "+P99 BASE", "+P99 WHAT-IF", "SHARE BASE", "SHARE WHAT-IF"})
		for _, op := range r.Operations {
			w := op.Variant
			rows = append(rows, []string{op.Name(), fmt.Sprint(op.Traces), v.micros(op.MeasuredP50Micros),
				v.micros(op.Baseline.LatencyP50Micros), v.micros(w.LatencyP50Micros), v.signed(w.LatencyP50Micros - op.Baseline.LatencyP50Micros),
				v.micros(op.Baseline.LatencyP99Micros), v.micros(w.LatencyP99Micros), v.percent(op.Baseline.ShareP50), v.percent(w.ShareP50)})
		}
	}
	v.table(buf, rows)

	rows = rows[:0]
	if !variant {
		rows = append(rows, []string{"OPERATION", "CALL", "PROTO", "MTLS", "PER REQUEST", "REQ/RESP", "+P50/CALL", "+P99/CALL", "TOP"})
	} else {
		rows = append(rows, []string{"OPERATION", "CALL", "PROTO", "MTLS", "PER REQUEST", "+P50/CALL BASE", "+P50/CALL WHAT-IF", "Δ P50"})
	}
	for _, op := range r.Operations {
		for _, c := range op.Calls {
			e := c.Edge
			row := []string{op.Name(), c.From + " -> " + c.To, string(e.Protocol), onOffText(e.MTLS), trimNumber(c.PerRequest)}
			switch {
			case !variant:
				row = append(row, v.bytes(e.RequestBytes)+"/"+v.bytes(e.ResponseBytes), v.micros(e.LatencyP50Micros), v.micros(e.LatencyP99Micros), orDashText(e.TopComponent))
			case c.VariantEdge != nil:
				w := c.VariantEdge
				row[2], row[3] = changeText(string(e.Protocol), string(w.Protocol)), changeText(onOffText(e.MTLS), onOffText(w.MTLS))
				row = append(row, v.micros(e.LatencyP50Micros), v.micros(w.LatencyP50Micros), v.signed(w.LatencyP50Micros-e.LatencyP50Micros))
			default:
				row = append(row, v.micros(e.LatencyP50Micros), "-", "-")
			}
			rows = append(rows, row)
		}
	}
	fmt.Fprintln(buf, "\nCalls on the critical path:")
	if len(rows) == 1 {
		fmt.Fprintln(buf, "No calls between services on any critical path.")
	} else {
		v.table(buf, rows)
	}

	if v.wide {
		rows = rows[:0]
		if !variant {
			rows = append(rows, []string{"OPERATION", "COMPONENT", "+P50", "+P99", "SHARE OF +P50"})
		} else {
			rows = append(rows, []string{"OPERATION", "COMPONENT", "+P50 BASE", "+P50 WHAT-IF", "Δ P50"})
		}
		for _, op := range r.Operations {
			for _, c := range op.Baseline.Components {
				if !variant {
					rows = append(rows, []string{op.Name(), c.Component, v.micros(c.LatencyP50Micros), v.micros(c.LatencyP99Micros),
						v.percent(c.LatencyP50Micros / op.Baseline.LatencyP50Micros)})
					continue
				}
				w := 0.0
				for _, wc := range op.Variant.Components {
					if wc.Component == c.Component {
						w = wc.LatencyP50Micros
					}
				}
				rows = append(rows, []string{op.Name(), c.Component, v.micros(c.LatencyP50Micros), v.micros(w), v.signed(w - c.LatencyP50Micros)})
			}
		}
		if len(rows) > 1 {
			fmt.Fprintln(buf, "\nComponents:")
			v.table(buf, rows)
		}
	}

	if len(r.Messages) > 0 {
		fmt.Fprintln(buf, "\nAssumptions and warnings:")
		for _, m := range r.Messages {
			fmt.Fprintln(buf, "  "+m.String())
		}
	}
}

// table writes rows (the first is the header) left-aligned, three spaces apart,
// without trailing blanks, as the other predict tables are.
func (traceView) table(buf *bytes.Buffer, rows [][]string) {
	var tb bytes.Buffer
	tw := tabwriter.NewWriter(&tb, 0, 0, 3, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
	for _, line := range strings.SplitAfter(tb.String(), "\n") {
		if line != "" {
			buf.WriteString(strings.TrimRight(line, " \n") + "\n")
		}
	}
}

// top names the components adding the most p50 latency, with their share.
func (v traceView) top(a predict.AddedLatency) string {
	if len(a.Components) == 0 || a.LatencyP50Micros <= 0 {
		return "-"
	}
	var parts []string
	for _, c := range a.Components[:min(3, len(a.Components))] {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", c.Component, 100*c.LatencyP50Micros/a.LatencyP50Micros))
	}
	return strings.Join(parts, ", ")
}

// micros renders µs with about three significant figures: 0.4µs, 57µs, 1.23ms.
func (traceView) micros(us float64) string {
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	three := func(v float64) string {
		switch {
		case v < 9.995:
			return fmt.Sprintf("%.2f", v)
		case v < 99.95:
			return fmt.Sprintf("%.1f", v)
		}
		return fmt.Sprintf("%.0f", v)
	}
	switch {
	case us < 0.05:
		return "0µs"
	case us < 9.95:
		return fmt.Sprintf("%s%.1fµs", sign, us)
	case us < 999.5:
		return fmt.Sprintf("%s%.0fµs", sign, us)
	case us < 999_500:
		return sign + three(us/1e3) + "ms"
	}
	return sign + three(us/1e6) + "s"
}

func (v traceView) signed(d float64) string {
	if d >= 0.05 {
		return "+" + v.micros(d)
	}
	return v.micros(d)
}

// percent renders a share (0.05 = 5 %) with two significant figures below 10 %.
func (traceView) percent(share float64) string {
	p := 100 * share
	switch {
	case p < 0.005:
		return "0%"
	case p < 1:
		return fmt.Sprintf("%.2f%%", p)
	case p < 10:
		return fmt.Sprintf("%.1f%%", p)
	}
	return fmt.Sprintf("%.0f%%", p)
}

// bytes renders a size: 512, 1.5Ki.
func (traceView) bytes(b float64) string {
	if b < 1023.5 {
		return fmt.Sprintf("%.0f", b)
	}
	if b < 1024*1023.95 {
		return fmt.Sprintf("%.1fKi", b/1024)
	}
	return fmt.Sprintf("%.1fMi", b/(1024*1024))
}

func trimNumber(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

func onOffText(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func changeText(base, variant string) string {
	if base == variant {
		return base
	}
	return base + "→" + variant
}

func orDashText(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// predictTracesExamples are the trace examples of `predict --help`.
const predictTracesExamples = `

  # Added latency along each operation's critical path, from exported traces
  kubectl meshinsight predict --traces traces.json
  kubectl meshinsight predict --traces ./exports/ --service frontend --operation 'GET /checkout'

  # From a Jaeger query service, with modes and mTLS from a call-graph file
  kubectl meshinsight predict --jaeger-url http://localhost:16686 --service frontend -f shop.yaml`
