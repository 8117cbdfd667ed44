package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/pflag"

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

// enabled reports whether the flags ask for a prediction on traces.
func (t *traceOptions) enabled() bool { return t.Path != "" || t.JaegerURL != "" }

// validateTraces checks the trace flags against the others, without I/O.
func (o *PredictOptions) validateTraces() error {
	t := &o.traces
	if o.source != fromTraces {
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
	case o.format == printers.Dot || o.format == printers.SVG || o.format == printers.HTML:
		return fmt.Errorf("-o %s is not available with traces; use table, wide, json or yaml", o.format)
	case o.fanOutGiven:
		return errors.New("--fanout combines the calls along a call graph's paths; with traces each request's critical path already says which calls were waited for: leave --fanout out")
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

// readTraces reads the traces and computes their critical paths; source
// names where they came from.
func (t *traceOptions) readTraces(ctx context.Context) (sum *traces.Summary, source string, err error) {
	var set *traces.Set
	if t.Path != "" {
		if set, err = traces.ReadPath(t.Path); err != nil {
			return nil, "", err
		}
		source = t.Path
	} else {
		ctx, cancel := context.WithTimeout(ctx, jaegerTimeout)
		defer cancel()
		c := &traces.JaegerClient{BaseURL: t.JaegerURL, HTTPClient: &http.Client{}}
		spans, warns, err := c.Traces(ctx, traces.Query{Service: t.Service, Operation: t.Operation, Lookback: t.Lookback, Limit: t.Limit})
		if err != nil {
			return nil, "", err
		}
		set = traces.Assemble(spans, warns)
		source = t.JaegerURL
	}
	if len(set.Traces) == 0 {
		return nil, "", fmt.Errorf("no traces in %s", source)
	}
	sum = traces.Summarize(set, traces.Filter{Service: t.Service, Operation: t.Operation})
	if sum.Requests == 0 {
		return nil, "", fmt.Errorf("none of the %d traces in %s has a request of %s: check --service and --operation", len(set.Traces), source, describeFilter(t.Service, t.Operation))
	}
	return sum, source, nil
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

// runTraces predicts the overhead along the critical paths of the traces
// and prints it; a graph given with -f supplies the services it names.
func (o *PredictOptions) runTraces(ctx context.Context, out io.Writer) error {
	g, _, err := o.readGraph(ctx)
	if err != nil {
		return err
	}
	in, err := o.predictInput(ctx)
	if err != nil {
		return err
	}
	sum, source, err := o.traces.readTraces(ctx)
	if err != nil {
		return err
	}
	report, tg, err := predict.PredictTraces(predict.TraceInput{
		Summary: sum, Source: source, Graph: g,
		Profile: in.Profile, ProfileSource: in.ProfileSource, NodeProfiles: in.NodeProfiles,
		WhatIf: in.WhatIf, Speedups: in.Speedups, Queueing: in.Queueing,
	})
	if err != nil {
		return err
	}
	if o.ExportGraph != "" {
		if len(tg.Edges) == 0 {
			return errors.New("--export-graph: the traces hold no calls between services, so there is no graph to write")
		}
		if err := writeGraph(o.ExportGraph, tg); err != nil {
			return err
		}
	}
	report.Messages = o.shown(report.Messages)
	return printers.PrintTraces(out, report, o.format)
}

// predictTracesExamples are the trace examples of `predict --help`.
const predictTracesExamples = `

  # Added latency along each operation's critical path, from exported traces
  kubectl meshinsight predict --traces traces.json
  kubectl meshinsight predict --traces ./exports/ --service frontend --operation 'GET /checkout'

  # From a Jaeger query service, with modes and mTLS from a call-graph file
  kubectl meshinsight predict --jaeger-url http://localhost:16686 --service frontend -f shop.yaml`
