package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/rest"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// ErrUnreachable marks errors where Prometheus could not be reached or did
// not answer as Prometheus does: connection refused, timeouts, a proxy's
// 404 or 503, an authorization failure, a body that is not the Prometheus
// API's. Callers test it with errors.Is and fall back to the sidecars.
// Errors in the queries themselves (bad_data, execution) do not carry it.
var ErrUnreachable = errors.New("Prometheus unreachable")

// DefaultQueryTimeout bounds one Traffic call against Prometheus when
// Prometheus.Timeout is zero.
const DefaultQueryTimeout = 30 * time.Second

// queryParallelism is how many queries run at once against Prometheus.
const queryParallelism = 4

// Prometheus reads observed traffic from Istio's standard metrics in
// Prometheus.
type Prometheus struct {
	api promv1.API
	url string

	// At is the evaluation time of the queries; zero means now. Set it to
	// read the past, or data whose last samples are older than the window.
	At time.Time
	// Timeout bounds one Traffic call; zero means DefaultQueryTimeout.
	Timeout time.Duration
}

// NewPrometheus returns a source that queries Prometheus through client.
func NewPrometheus(client promapi.Client) *Prometheus {
	return &Prometheus{api: promv1.NewAPI(client), url: redactedURL(client.URL("", nil))}
}

// NewPrometheusFromURL returns a source that queries the Prometheus at
// address (e.g. http://prometheus.istio-system:9090) through rt; a nil rt
// means http.DefaultTransport. No answer is read past
// MaxPrometheusResponseBytes.
func NewPrometheusFromURL(address string, rt http.RoundTripper) (*Prometheus, error) {
	return newPrometheusFromURL(address, rt, MaxPrometheusResponseBytes)
}

func newPrometheusFromURL(address string, rt http.RoundTripper, limit int64) (*Prometheus, error) {
	u, err := url.Parse(address)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("invalid Prometheus URL %q: want scheme://host[:port][/path]", address)
	}
	client, err := promapi.NewClient(promapi.Config{Address: address, RoundTripper: boundedTransport{rt: rt, limit: limit}})
	if err != nil {
		return nil, fmt.Errorf("creating Prometheus client for %s: %w", redactedURL(u), err)
	}
	return NewPrometheus(client), nil
}

// NewPrometheusViaServiceProxy returns a source that reaches the Prometheus
// Service namespace/service on port through the Kubernetes API server's
// service proxy, authenticated as cfg. port is a port number or name; the
// service may carry a scheme prefix ("https:prometheus"). The user needs
// get on services/proxy in that namespace.
func NewPrometheusViaServiceProxy(cfg *rest.Config, namespace, service, port string) (*Prometheus, error) {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating an HTTP client for the API server: %w", err)
	}
	host, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("finding the API server's URL: %w", err)
	}
	return NewPrometheusFromURL(ServiceProxyURL(host.String(), namespace, service, port), client.Transport)
}

// ServiceProxyURL returns the base URL under which the API server at host
// proxies to a Service:
// <host>/api/v1/namespaces/<namespace>/services/[<scheme>:]<service>[:<port>]/proxy/.
// A host without a scheme gets https://, as API servers serve TLS. A path in
// host (some gateways serve clusters under a prefix) is kept.
func ServiceProxyURL(host, namespace, service, port string) string {
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	target := service
	if port != "" {
		target += ":" + port
	}
	return strings.TrimRight(host, "/") + "/api/v1/namespaces/" + url.PathEscape(namespace) +
		"/services/" + url.PathEscape(target) + "/proxy/"
}

// URL is the address of the Prometheus API the source queries, without
// credentials.
func (p *Prometheus) URL() string { return p.url }

// Traffic returns the traffic of every edge with at least one end in
// namespaces (all edges when namespaces is empty), as rates over window
// ending at p.At. Errors reaching Prometheus wrap ErrUnreachable.
func (p *Prometheus) Traffic(ctx context.Context, namespaces []string, window time.Duration) (*Traffic, error) {
	if window < time.Second {
		return nil, fmt.Errorf("window %v is too short for rate(): want at least 1s (several scrape intervals is best)", window)
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultQueryTimeout
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	at := p.At
	if at.IsZero() {
		at = time.Now()
	}

	results := make([]model.Vector, numMetrics)
	warnings := make([]promv1.Warnings, numMetrics)
	errs := make([]error, numMetrics)
	sem := make(chan struct{}, queryParallelism)
	var wg sync.WaitGroup
	for m := metric(0); m < numMetrics; m++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := acquire(ctx, sem)
			if err != nil {
				errs[m] = err
				return
			}
			defer release()
			results[m], warnings[m], errs[m] = p.query(ctx, rateQuery(m, namespaces, window), at)
			if errs[m] != nil {
				cancel() // one failure fails the call: stop the others early
			}
		}()
	}
	wg.Wait()
	if err := firstError(errs); err != nil {
		if parent.Err() != nil {
			// The caller gave up: that says nothing about Prometheus.
			return nil, fmt.Errorf("querying Prometheus at %s: %w", p.url, parent.Err())
		}
		return nil, p.wrapError(err, timeout)
	}

	var msgs diag.List
	var samples []sample
	for m := metric(0); m < numMetrics; m++ {
		for _, w := range warnings[m] {
			msgs.Add(diag.New(diag.TelemetryIncomplete, "prometheus", "Prometheus warned about %s: %s", seriesName[m], w))
		}
		for _, s := range results[m] {
			samples = append(samples, sampleFromLabels(m, func(name string) string {
				return string(s.Metric[model.LabelName(name)])
			}, float64(s.Value)))
		}
	}
	edges, assembleMsgs := assemble(samples)
	msgs.AddAll(assembleMsgs)
	if len(edges) == 0 {
		scope := "any namespace"
		if len(namespaces) > 0 {
			scope = "namespaces " + strings.Join(namespaces, ", ")
		}
		msgs.Add(diag.New(diag.TelemetryIncomplete, "prometheus",
			"Prometheus at %s has no Istio traffic metrics for %s in the %v before %s: is it scraping the sidecars?",
			p.url, scope, window, at.UTC().Format(time.RFC3339)))
	}
	return &Traffic{Source: SourcePrometheus, Window: window, Edges: edges, Messages: msgs.Sorted()}, nil
}

// query runs one instant query and insists on a vector result.
func (p *Prometheus) query(ctx context.Context, q string, at time.Time) (model.Vector, promv1.Warnings, error) {
	v, warnings, _, err := p.api.Query(ctx, q, at)
	if err != nil {
		if isQueryError(err) {
			return nil, warnings, fmt.Errorf("query %s: %w", q, err)
		}
		return nil, warnings, err
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, warnings, fmt.Errorf("query %s: got a %s, want a vector", q, v.Type())
	}
	return vec, warnings, nil
}

// firstError returns the most telling error: a cancellation caused by a
// sibling query's failure is less telling than that failure.
func firstError(errs []error) error {
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if !errors.Is(err, context.Canceled) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// isQueryError reports whether Prometheus answered and rejected the query
// itself, as opposed to not answering like Prometheus at all.
func isQueryError(err error) bool {
	var apiErr *promv1.Error
	return errors.As(err, &apiErr) && (apiErr.Type == promv1.ErrBadData || apiErr.Type == promv1.ErrExec)
}

// wrapError adds the Prometheus URL and, when Prometheus could not be
// reached or did not answer like Prometheus, ErrUnreachable.
func (p *Prometheus) wrapError(err error, timeout time.Duration) error {
	if isQueryError(err) {
		return fmt.Errorf("querying Prometheus at %s: %w", p.url, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w at %s: no answer within %v: %w", ErrUnreachable, p.url, timeout, err)
	}
	return fmt.Errorf("%w at %s: %w", ErrUnreachable, p.url, err)
}

// redactedURL renders u without user credentials, for messages.
func redactedURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	return c.String()
}
