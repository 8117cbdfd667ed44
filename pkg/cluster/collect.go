package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/kube"
	"github.com/meshinsight/kubectl-meshinsight/pkg/mesh"
	"github.com/meshinsight/kubectl-meshinsight/pkg/telemetry"
)

// Options tune Collect.
type Options struct {
	Namespace     string
	AllNamespaces bool
	// IstioNamespace is Istio's root namespace, where a `prometheus` Service is
	// looked for. Default istio-system.
	IstioNamespace string
	Source         telemetry.Source
	// PrometheusURL, when set, is used instead of discovering Prometheus.
	PrometheusURL string
	// At evaluates Prometheus queries at this time instead of now.
	At     time.Time
	Window time.Duration
	// SampleInterval is the time between two scrapes of the sidecars.
	SampleInterval time.Duration
	// Selector, when not nil or empty, keeps only the application workloads
	// whose pod labels it matches and the calls between them (-l).
	Selector labels.Selector
}

// Collect reads the cluster and assembles its call graph. Missing Istio or an
// unreachable telemetry source degrade with a message; a namespace that does not
// exist or a permission to list workloads that is missing is an error.
func Collect(ctx context.Context, c *kube.Clients, o Options) (*callgraph.Graph, []diag.Message, error) {
	in, notes, err := read(ctx, c, o)
	if err != nil {
		return nil, nil, err
	}
	g, bnotes := Build(in)
	notes.AddAll(bnotes)
	snotes, err := Select(g, in.Topology, o.Selector)
	if err != nil {
		return nil, nil, err
	}
	notes.AddAll(snotes)
	return g, notes.Sorted(), nil
}

// Select keeps in g only the application workloads of top whose pod labels
// sel matches, and the calls between them; a nil or empty selector keeps
// everything. A selector that matches no workload is an error, as kubectl
// reports "No resources found"; calls it cuts are reported (MI0037).
func Select(g *callgraph.Graph, top *kube.Topology, sel labels.Selector) ([]diag.Message, error) {
	if sel == nil || sel.Empty() {
		return nil, nil
	}
	match, err := matching(top, sel)
	if err != nil {
		return nil, err
	}
	dropped := g.Restrict(func(w callgraph.Workload) bool { return match[w.ID()] })
	if len(dropped) == 0 {
		return nil, nil
	}
	names := make([]string, 0, 3)
	for _, e := range dropped[:min(3, len(dropped))] {
		names = append(names, e.Name())
	}
	more := ""
	if len(dropped) > len(names) {
		more = fmt.Sprintf(" and %d more", len(dropped)-len(names))
	}
	return []diag.Message{diag.New(diag.SelectionCut, "selector",
		"%d call(s) to or from workloads outside %q left out (%s%s): their cost on the selected proxies is not counted",
		len(dropped), sel, strings.Join(names, ", "), more)}, nil
}

// CollectSidecars reads the cluster like Collect and plans the Sidecar
// resources that would scope each sidecar to the Services it was observed
// calling (ObservedSidecars); it returns the graph too.
func CollectSidecars(ctx context.Context, c *kube.Clients, o Options) ([]mesh.SidecarPlan, *callgraph.Graph, []diag.Message, error) {
	in, notes, err := read(ctx, c, o)
	if err != nil {
		return nil, nil, nil, err
	}
	g, bnotes := Build(in)
	notes.AddAll(bnotes)
	// Plans come from every call observed, whatever -l selects: a Sidecar
	// missing a host its workload calls would break that call.
	plans, snotes := ObservedSidecars(in, g)
	if o.Selector != nil && !o.Selector.Empty() {
		match, err := matching(in.Topology, o.Selector)
		if err != nil {
			return nil, nil, nil, err
		}
		plans = slices.DeleteFunc(plans, func(p mesh.SidecarPlan) bool { return !match[p.Namespace+"/"+p.Name] })
	}
	notes.AddAll(snotes)
	return plans, g, notes.Sorted(), nil
}

// matching returns the IDs of the application workloads whose pod labels
// sel matches, or an error when there is none.
func matching(top *kube.Topology, sel labels.Selector) (map[string]bool, error) {
	match := map[string]bool{}
	for _, w := range top.Workloads {
		if w.Role == kube.RoleApplication && sel.Matches(labels.Set(w.Labels)) {
			match[w.ID()] = true
		}
	}
	if len(match) == 0 {
		return nil, fmt.Errorf("no workload's pods match the selector %q: widen -l/--selector or drop it", sel)
	}
	return match, nil
}

// read reads what Build assembles: the topology, Istio's configuration and
// the observed traffic.
func read(ctx context.Context, c *kube.Clients, o Options) (Input, diag.List, error) {
	var notes diag.List
	if o.IstioNamespace == "" {
		o.IstioNamespace = mesh.DefaultRootNamespace
	}
	if o.Source == "" {
		o.Source = telemetry.SourceAuto
	}
	top, err := kube.Discover(ctx, c.Kube, c.Dynamic, kube.Options{Namespace: o.Namespace, AllNamespaces: o.AllNamespaces})
	if err != nil {
		return Input{}, notes, err
	}
	var namespaces []string
	if !o.AllNamespaces {
		namespaces = []string{o.Namespace}
	}
	cfg, msgs, err := mesh.Load(ctx, c.Istio, namespaces, o.IstioNamespace)
	notes.AddAll(msgs)
	var notInstalled *mesh.NotInstalledError
	switch {
	case errors.As(err, &notInstalled):
		notInstalled.Context = c.Context
		notes.Add(diag.New(diag.PartialTopology, "istio", "%v; continuing with Istio's defaults", notInstalled))
	case err != nil:
		return Input{}, notes, fmt.Errorf("reading Istio configuration: %w", err)
	}

	traffic, tnotes := readTraffic(ctx, c, o, top, namespaces)
	notes.AddAll(tnotes)
	name := o.Namespace
	if o.AllNamespaces {
		name = "all-namespaces"
	}
	return Input{Name: name, Topology: top, Mesh: cfg, Traffic: traffic}, notes, nil
}

// readTraffic returns observed traffic from the chosen source, falling back as
// the source allows; nil means "use configuration".
func readTraffic(ctx context.Context, c *kube.Clients, o Options, top *kube.Topology, namespaces []string) (*telemetry.Traffic, []diag.Message) {
	var notes []diag.Message
	note := func(code diag.Code, format string, args ...any) {
		notes = append(notes, diag.New(code, "telemetry", format, args...))
	}
	if o.Source == telemetry.SourceConfig {
		return nil, notes
	}
	if o.Source == telemetry.SourceAuto || o.Source == telemetry.SourcePrometheus {
		prom, where, err := prometheusClient(ctx, c, o)
		if err != nil {
			err = fmt.Errorf("Prometheus %s: %w", where, err)
		} else {
			prom.At = o.At
			t, terr := prom.Traffic(ctx, namespaces, o.Window)
			switch {
			case terr != nil:
				err = terr // names the URL already
			case len(t.Edges) > 0 || o.Source == telemetry.SourcePrometheus:
				return t, notes
			default:
				notes = append(notes, t.Messages...)
				err = fmt.Errorf("Prometheus at %s has no Istio traffic for these namespaces in the last %v", prom.URL(), o.Window)
			}
		}
		if o.Source == telemetry.SourcePrometheus {
			note(diag.TelemetryIncomplete, "%v; no telemetry used", err)
			return nil, notes
		}
		note(diag.TelemetryIncomplete, "%v; falling back to the sidecars' stats", err)
	}
	var pods []telemetry.PodRef
	for _, w := range top.Workloads {
		for _, p := range w.Pods {
			if p.Sidecar && p.Ready {
				pods = append(pods, telemetry.PodRef{Namespace: p.Namespace, Name: p.Name, Workload: w.Name})
			}
		}
	}
	s := telemetry.NewSidecars(c.Kube, 0, 0)
	s.SampleInterval = o.SampleInterval
	t, err := s.Traffic(ctx, pods, o.Window)
	if err == nil && len(t.Edges) > 0 {
		return t, notes
	}
	if err != nil {
		note(diag.TelemetryIncomplete, "sidecar stats: %v; edges come from configuration", err)
	} else {
		notes = append(notes, t.Messages...)
		note(diag.TelemetryIncomplete, "sidecar stats showed no traffic; edges come from configuration")
	}
	return nil, notes
}

// prometheusClient returns the Prometheus to query: --prometheus-url, or a
// `prometheus` Service in Istio's namespace reached through the API server.
func prometheusClient(ctx context.Context, c *kube.Clients, o Options) (*telemetry.Prometheus, string, error) {
	if o.PrometheusURL != "" {
		p, err := telemetry.NewPrometheusFromURL(o.PrometheusURL, nil)
		return p, "at " + o.PrometheusURL, err
	}
	where := fmt.Sprintf("service %s/prometheus", o.IstioNamespace)
	svc, err := c.Kube.CoreV1().Services(o.IstioNamespace).Get(ctx, "prometheus", metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, where, errors.New("not found (pass --prometheus-url to use another)")
	case err != nil:
		return nil, where, err
	case len(svc.Spec.Ports) == 0:
		return nil, where, errors.New("has no ports")
	}
	port := fmt.Sprint(svc.Spec.Ports[0].Port)
	p, err := telemetry.NewPrometheusViaServiceProxy(c.Config, o.IstioNamespace, "prometheus", port)
	return p, where, err
}
