package cmd

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/cluster"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/kube"
	"github.com/meshinsight/kubectl-meshinsight/pkg/telemetry"
)

// liveOptions are the flags of commands that read the live cluster.
type liveOptions struct {
	AllNamespaces  bool
	Source         string
	PrometheusURL  string
	Window         time.Duration
	SampleInterval time.Duration
	IstioNamespace string
	Timeout        time.Duration
	At             string
	Selector       string

	// Set by complete.
	source   telemetry.Source
	at       time.Time
	selector labels.Selector
}

func newLiveOptions() liveOptions {
	return liveOptions{Source: string(telemetry.SourceAuto), Window: 5 * time.Minute, SampleInterval: 10 * time.Second,
		IstioNamespace: "istio-system", Timeout: 2 * time.Minute}
}

func (o *liveOptions) addFlags(f *pflag.FlagSet) {
	f.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", o.AllNamespaces, "Read every namespace")
	f.StringVarP(&o.Selector, "selector", "l", "", "Only the workloads whose pods match this label selector (e.g. -l app=reviews, -l 'team in (a,b)'), and the calls between them")
	f.StringVar(&o.Source, "source", o.Source, "Where observed traffic comes from: auto (Prometheus, then sidecar stats, then configuration), prometheus, sidecars or config")
	f.StringVar(&o.PrometheusURL, "prometheus-url", "", "Prometheus to query (default: the prometheus Service in --istio-namespace, through the API server)")
	f.DurationVar(&o.Window, "window", o.Window, "Window that observed rates average over")
	f.StringVar(&o.At, "at", "", "Read Prometheus traffic as of this time (RFC 3339 or Unix seconds) instead of now")
	f.DurationVar(&o.SampleInterval, "sample-interval", o.SampleInterval, "Time between the two scrapes of each sidecar (--source sidecars)")
	f.StringVar(&o.IstioNamespace, "istio-namespace", o.IstioNamespace, "Istio's root namespace")
	f.DurationVar(&o.Timeout, "collect-timeout", o.Timeout, "Give up reading the cluster after this long")
}

// complete parses --source, --at and --selector.
func (o *liveOptions) complete() error {
	var err error
	if o.source, err = telemetry.ParseSource(o.Source); err != nil {
		return err
	}
	if o.selector, err = labels.Parse(o.Selector); err != nil {
		return fmt.Errorf("-l/--selector %q: %w", o.Selector, err)
	}
	o.at, err = parseAt(o.At)
	return err
}

// validate checks the durations; no I/O.
func (o *liveOptions) validate() error {
	if o.Window <= 0 || o.SampleInterval <= 0 || o.Timeout <= 0 {
		return fmt.Errorf("--window, --sample-interval and --collect-timeout must be positive")
	}
	return nil
}

// collect reads the cluster of c's kube context into a call graph.
func (o *liveOptions) collect(ctx context.Context, c *kube.Clients) (*callgraph.Graph, []diag.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	g, msgs, err := cluster.Collect(ctx, c, o.clusterOptions(c))
	if err != nil {
		return nil, nil, fmt.Errorf("reading context %q: %w", c.Context, err)
	}
	return g, msgs, nil
}

// clusterOptions are the flags as pkg/cluster takes them.
func (o *liveOptions) clusterOptions(c *kube.Clients) cluster.Options {
	return cluster.Options{Namespace: c.Namespace, AllNamespaces: o.AllNamespaces,
		IstioNamespace: o.IstioNamespace, Source: o.source, PrometheusURL: o.PrometheusURL, At: o.at,
		Window: o.Window, SampleInterval: o.SampleInterval, Selector: o.selector}
}

// parseAt reads --at: empty (now), RFC 3339, or Unix seconds.
func parseAt(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(secs, 0), nil
	}
	return time.Time{}, fmt.Errorf("--at %q: want RFC 3339 (2026-11-27T10:00:00Z) or Unix seconds", s)
}
