package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// Where pilot-agent serves the merged application and Envoy metrics of a
// sidecar (Envoy's own stats alone are on 15090).
const (
	StatsPort = "15020"
	StatsPath = "/stats/prometheus"
)

// Defaults of the sidecar source.
const (
	// DefaultSampleInterval is the time between the two scrapes of each
	// sidecar. Envoy merges histograms every 5s (its stats flush interval),
	// so the interval should be at least twice that.
	DefaultSampleInterval = 10 * time.Second
	// DefaultScrapeParallelism bounds concurrent scrapes when none is given.
	DefaultScrapeParallelism = 8
	// DefaultScrapeTimeout bounds one scrape of one sidecar when none is given.
	DefaultScrapeTimeout = 10 * time.Second
)

// Sidecars computes observed traffic without Prometheus: it scrapes every
// sidecar's stats twice, SampleInterval apart, through the API server's pod
// proxy, and turns the counters' growth into rates. Client pods contribute
// their reporter="source" series and server pods their
// reporter="destination" series; the package doc says which one counts.
type Sidecars struct {
	parallelism int
	timeout     time.Duration
	scrape      func(ctx context.Context, pod PodRef) ([]byte, error)
	now         func() time.Time
	sleepUntil  func(ctx context.Context, t time.Time) error

	// SampleInterval is the time between the two scrapes; zero means
	// DefaultSampleInterval. A window shorter than it shortens it; a longer
	// window does not lengthen it (nobody waits five minutes for a
	// command), which Traffic reports as a message.
	SampleInterval time.Duration
}

// NewSidecars returns a source that reaches sidecars through client's pod
// proxy (the user needs get on pods/proxy), scraping at most parallelism
// pods at once (<= 0: DefaultScrapeParallelism), each scrape bounded by
// timeout (<= 0: DefaultScrapeTimeout).
func NewSidecars(client kubernetes.Interface, parallelism int, timeout time.Duration) *Sidecars {
	if parallelism <= 0 {
		parallelism = DefaultScrapeParallelism
	}
	if timeout <= 0 {
		timeout = DefaultScrapeTimeout
	}
	return &Sidecars{
		parallelism: parallelism,
		timeout:     timeout,
		now:         time.Now,
		sleepUntil:  sleepUntil,
		scrape: func(ctx context.Context, pod PodRef) ([]byte, error) {
			body, err := client.CoreV1().Pods(pod.Namespace).ProxyGet("http", pod.Name, StatsPort, StatsPath, nil).Stream(ctx)
			if err != nil {
				return nil, err
			}
			defer body.Close()
			return readStats(body)
		},
	}
}

// Traffic scrapes the sidecars of pods twice and returns the traffic of
// every edge they reported. The rates average over the sample interval (see
// SampleInterval), which Traffic.Window gives. A pod whose stats cannot be
// read or parsed is reported in Messages and left out; Traffic fails only
// when no pod could be read or ctx ends.
func (s *Sidecars) Traffic(ctx context.Context, pods []PodRef, window time.Duration) (*Traffic, error) {
	interval := s.SampleInterval
	if interval <= 0 {
		interval = DefaultSampleInterval
	}
	var msgs diag.List
	if window > 0 && window < interval {
		interval = window
	}
	if window > interval {
		msgs.Add(diag.New(diag.ShortSampleInterval, "sidecars",
			"rates are averaged over %v between two scrapes of each sidecar, not over the requested %v window", interval, window))
	}
	if len(pods) == 0 {
		msgs.Add(diag.New(diag.TelemetryIncomplete, "sidecars", "no pods with sidecars to scrape"))
		return &Traffic{Source: SourceSidecars, Window: interval, Edges: []EdgeTraffic{}, Messages: msgs.Sorted()}, nil
	}

	first, second, errs, problems := s.scrapeTwice(ctx, pods, interval)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("scraping sidecar stats: %w", err)
	}

	var samples []sample
	var failed []string
	var firstErr error
	for i, pod := range pods {
		subject := podSubject(pod)
		if len(problems[i]) > 0 {
			msgs.Add(diag.New(diag.TelemetryMalformed, subject, "skipped malformed series in the sidecar's stats: %s",
				summarize(problems[i], 3)))
		}
		if errs[i] == nil {
			var resets int
			var podSamples []sample
			podSamples, resets, errs[i] = statsRates(first[i], second[i])
			if resets > 0 {
				msgs.Add(diag.New(diag.CounterReset, subject,
					"%d counters went backwards between the two scrapes (the proxy restarted?); they count from the reset", resets))
			}
			samples = append(samples, podSamples...)
		}
		if errs[i] != nil {
			failed = append(failed, pod.String())
			if firstErr == nil {
				firstErr = fmt.Errorf("pod %s: %w", pod, errs[i])
			}
			code := diag.TelemetryIncomplete
			if errors.Is(errs[i], errMalformedStats) {
				code = diag.TelemetryMalformed
			}
			msgs.Add(diag.New(code, subject, "sidecar stats not read, the pod's traffic is missing: %v", errs[i]))
		}
	}
	if len(failed) == len(pods) {
		return nil, fmt.Errorf("scraping sidecar stats: none of %d pods answered; %w", len(pods), firstErr)
	}

	edges, assembleMsgs := assemble(samples)
	msgs.AddAll(assembleMsgs)
	return &Traffic{Source: SourceSidecars, Window: interval, Edges: edges, Messages: msgs.Sorted()}, nil
}

// scrapeTwice scrapes every pod, then again interval after its own first
// scrape. Waiting holds no semaphore slot, so the whole call takes about
// interval plus two rounds of scraping. errs and problems are per pod.
func (s *Sidecars) scrapeTwice(ctx context.Context, pods []PodRef, interval time.Duration) (first, second []statsSnapshot, errs []error, problems [][]string) {
	sem := make(chan struct{}, s.parallelism)
	first = make([]statsSnapshot, len(pods))
	second = make([]statsSnapshot, len(pods))
	errs = make([]error, len(pods))
	problems = make([][]string, len(pods))
	s.round(ctx, sem, pods, errs, func(ctx context.Context, i int) error {
		snap, probs, err := s.scrapeOnce(ctx, pods[i])
		first[i], problems[i] = snap, probs
		return err
	}, nil)
	s.round(ctx, sem, pods, errs, func(ctx context.Context, i int) error {
		snap, probs, err := s.scrapeOnce(ctx, pods[i])
		second[i] = snap
		problems[i] = append(problems[i], probs...)
		return err
	}, func(ctx context.Context, i int) error {
		return s.sleepUntil(ctx, first[i].at.Add(interval))
	})
	return first, second, errs, problems
}

// errMalformedStats marks stats that were fetched but could not be parsed.
var errMalformedStats = errors.New("malformed stats")

// scrapeOnce fetches and parses one pod's stats, within the per-pod timeout.
// The snapshot's time is the middle of the request, the best estimate of
// when the proxy read its counters.
func (s *Sidecars) scrapeOnce(ctx context.Context, pod PodRef) (statsSnapshot, []string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	start := s.now()
	body, err := s.scrape(ctx, pod)
	end := s.now()
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return statsSnapshot{}, nil, fmt.Errorf("fetching :%s%s: no answer within %v: %w", StatsPort, StatsPath, s.timeout, err)
		}
		return statsSnapshot{}, nil, fmt.Errorf("fetching :%s%s: %w", StatsPort, StatsPath, err)
	}
	series, problems, err := parseStats(body)
	if err != nil {
		return statsSnapshot{}, nil, fmt.Errorf("%w: %w", errMalformedStats, err)
	}
	return statsSnapshot{at: start.Add(end.Sub(start) / 2), series: series}, problems, nil
}

// round runs do for every pod whose errs entry is still nil, at most
// cap(sem) at once, after an optional wait that holds no slot. Errors land
// in errs.
func (s *Sidecars) round(ctx context.Context, sem chan struct{}, pods []PodRef, errs []error,
	do func(ctx context.Context, i int) error, wait func(ctx context.Context, i int) error) {
	var wg sync.WaitGroup
	for i := range pods {
		if errs[i] != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if wait != nil {
				if err := wait(ctx, i); err != nil {
					errs[i] = err
					return
				}
			}
			release, err := acquire(ctx, sem)
			if err != nil {
				errs[i] = err
				return
			}
			defer release()
			errs[i] = do(ctx, i)
		}()
	}
	wg.Wait()
}

// acquire takes a slot of the semaphore sem, or fails if ctx ends first;
// release gives the slot back.
func acquire(ctx context.Context, sem chan struct{}) (release func(), err error) {
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// sleepUntil waits until t, or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MaxStatsBytes bounds one sidecar's stats text: a busy Envoy's are a few
// MiB; whatever answers with more is not read further.
const MaxStatsBytes = 64 << 20

// readStats reads a stats text of at most MaxStatsBytes.
func readStats(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxStatsBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxStatsBytes {
		return nil, fmt.Errorf("the stats are larger than %d MiB, more than any sidecar's: not read", MaxStatsBytes>>20)
	}
	return body, nil
}

// podSubject names a pod and its workload in messages.
func podSubject(p PodRef) string {
	if p.Workload == "" {
		return "pod " + p.String()
	}
	return fmt.Sprintf("pod %s (%s)", p, p.Workload)
}

// summarize joins the first n distinct items and says how many more there are.
func summarize(items []string, n int) string {
	seen := map[string]bool{}
	var distinct []string
	for _, it := range items {
		if !seen[it] {
			seen[it] = true
			distinct = append(distinct, it)
		}
	}
	items = distinct
	if len(items) <= n {
		return strings.Join(items, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(items[:n], "; "), len(items)-n)
}
