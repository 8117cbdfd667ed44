package cmd

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/pflag"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/cluster"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
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
}

func newLiveOptions() liveOptions {
	return liveOptions{Source: string(telemetry.SourceAuto), Window: 5 * time.Minute, SampleInterval: 10 * time.Second,
		IstioNamespace: "istio-system", Timeout: 2 * time.Minute}
}

func (o *liveOptions) addFlags(f *pflag.FlagSet) {
	f.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", o.AllNamespaces, "Read every namespace")
	f.StringVar(&o.Source, "source", o.Source, "Where observed traffic comes from: auto (Prometheus, then sidecar stats, then configuration), prometheus, sidecars or config")
	f.StringVar(&o.PrometheusURL, "prometheus-url", "", "Prometheus to query (default: the prometheus Service in --istio-namespace, through the API server)")
	f.DurationVar(&o.Window, "window", o.Window, "Window that observed rates average over")
	f.StringVar(&o.At, "at", "", "Read Prometheus traffic as of this time (RFC 3339 or Unix seconds) instead of now")
	f.DurationVar(&o.SampleInterval, "sample-interval", o.SampleInterval, "Time between the two scrapes of each sidecar (--source sidecars)")
	f.StringVar(&o.IstioNamespace, "istio-namespace", o.IstioNamespace, "Istio's root namespace")
	f.DurationVar(&o.Timeout, "collect-timeout", o.Timeout, "Give up reading the cluster after this long")
}

func (o *liveOptions) validate() error {
	if _, err := telemetry.ParseSource(o.Source); err != nil {
		return err
	}
	if _, err := parseAt(o.At); err != nil {
		return err
	}
	if o.Window <= 0 || o.SampleInterval <= 0 || o.Timeout <= 0 {
		return fmt.Errorf("--window, --sample-interval and --collect-timeout must be positive")
	}
	return nil
}

// collect reads the cluster of the current kube context into a call graph.
func (o *liveOptions) collect(ctx context.Context, flags *genericclioptions.ConfigFlags) (*callgraph.Graph, []diag.Message, error) {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, nil, fmt.Errorf("loading kubeconfig: %w (use --kubeconfig or --context, or pass -f FILE to work without a cluster)", err)
	}
	ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, nil, fmt.Errorf("resolving the namespace: %w", err)
	}
	raw, err := flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil, nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	contextName := raw.CurrentContext
	if flags.Context != nil && *flags.Context != "" {
		contextName = *flags.Context
	}
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("creating Kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("creating dynamic client: %w", err)
	}
	ic, err := istioclient.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("creating Istio client: %w", err)
	}
	source, _ := telemetry.ParseSource(o.Source)
	at, _ := parseAt(o.At)
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	g, msgs, err := cluster.Collect(ctx, cluster.Clients{Config: cfg, Kube: kc, Dynamic: dyn, Istio: ic, Context: contextName},
		cluster.Options{Namespace: ns, AllNamespaces: o.AllNamespaces, IstioNamespace: o.IstioNamespace, Source: source,
			PrometheusURL: o.PrometheusURL, At: at, Window: o.Window, SampleInterval: o.SampleInterval})
	if err != nil {
		return nil, nil, fmt.Errorf("reading context %q: %w", contextName, err)
	}
	return g, msgs, nil
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
