package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// fakeClock moves only when the source sleeps, so that two scrapes are
// exactly the sample interval apart.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleepUntil(ctx context.Context, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
	return ctx.Err()
}

// podProxy is a fake API server that serves the pod proxy path of each pod
// with what its behaviour returns for the nth scrape (1-based).
type podProxy struct {
	mu       sync.Mutex
	scrapes  map[string]int
	inFlight int
	maxIn    int
	behave   map[string]func(w http.ResponseWriter, r *http.Request, n int)
}

var proxyPath = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/pods/http:([^/:]+):15020/proxy/stats/prometheus$`)

func (p *podProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := proxyPath.FindStringSubmatch(r.URL.Path)
	if m == nil || r.Method != http.MethodGet {
		http.Error(w, "unexpected request "+r.Method+" "+r.URL.Path, http.StatusTeapot)
		return
	}
	key := m[1] + "/" + m[2]
	p.mu.Lock()
	p.scrapes[key]++
	n := p.scrapes[key]
	p.inFlight++
	if p.inFlight > p.maxIn {
		p.maxIn = p.inFlight
	}
	behave := p.behave[key]
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.inFlight--
		p.mu.Unlock()
	}()
	if behave == nil {
		apiStatus(w, http.StatusNotFound, fmt.Sprintf(`pods \"%s\" not found`, m[2]))
		return
	}
	behave(w, r, n)
}

// apiStatus answers like the API server does on errors.
func apiStatus(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"%s","code":%d}`, msg, code)
}

// fixtures serves stats-<name>-1.txt, then stats-<name>-2.txt.
func fixtures(t *testing.T, name string) func(http.ResponseWriter, *http.Request, int) {
	first, second := readFixture(t, "stats-"+name+"-1.txt"), readFixture(t, "stats-"+name+"-2.txt")
	return func(w http.ResponseWriter, r *http.Request, n int) {
		time.Sleep(20 * time.Millisecond) // let scrapes overlap, to see the parallelism bound
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		if n == 1 {
			_, _ = w.Write(first)
		} else {
			_, _ = w.Write(second)
		}
	}
}

func newTestSidecars(t *testing.T, proxy *podProxy, parallelism int, timeout time.Duration) *Sidecars {
	t.Helper()
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	client, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL, QPS: 1000, Burst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	s := NewSidecars(client, parallelism, timeout)
	clock := &fakeClock{t: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
	s.now, s.sleepUntil = clock.now, clock.sleepUntil
	return s
}

func TestSidecarsTrafficPartial(t *testing.T) {
	proxy := &podProxy{scrapes: map[string]int{}, behave: map[string]func(http.ResponseWriter, *http.Request, int){
		"bookinfo/productpage-v1-abc": fixtures(t, "productpage"),
		"bookinfo/reviews-v1-def":     fixtures(t, "reviews"),
		"bookinfo/details-v1-refused": func(w http.ResponseWriter, r *http.Request, n int) {
			apiStatus(w, http.StatusServiceUnavailable,
				"error trying to reach service: dial tcp 10.244.0.9:15020: connect: connection refused")
		},
		"bookinfo/ratings-v1-garbage": func(w http.ResponseWriter, r *http.Request, n int) {
			fmt.Fprint(w, "<html><body>not metrics {</body></html>\n")
		},
		"bookinfo/ratings-v1-dies": func(w http.ResponseWriter, r *http.Request, n int) {
			if n > 1 {
				apiStatus(w, http.StatusNotFound, `pods \"ratings-v1-dies\" not found`)
				return
			}
			fmt.Fprint(w, "# TYPE istio_requests_total counter\n")
		},
		"bookinfo/slow-v1-xyz": func(w http.ResponseWriter, r *http.Request, n int) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		},
	}}
	s := newTestSidecars(t, proxy, 2, 300*time.Millisecond)
	pods := []PodRef{
		{"bookinfo", "productpage-v1-abc", "productpage-v1"},
		{"bookinfo", "reviews-v1-def", "reviews-v1"},
		{"bookinfo", "details-v1-refused", "details-v1"},
		{"bookinfo", "ratings-v1-garbage", "ratings-v1"},
		{"bookinfo", "ratings-v1-dies", "ratings-v1"},
		{"bookinfo", "slow-v1-xyz", "slow-v1"},
		{"bookinfo", "gone-v1-000", "gone-v1"},
	}
	tr, err := s.Traffic(context.Background(), pods, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Source != SourceSidecars || tr.Window != DefaultSampleInterval {
		t.Errorf("source %q window %v, want sidecars over %v", tr.Source, tr.Window, DefaultSampleInterval)
	}
	checkFixtureEdges(t, tr.Edges, tr.Messages)

	wantMsgs := []struct {
		code    diag.Code
		subject string
		text    string
	}{
		{diag.TelemetryIncomplete, "pod bookinfo/details-v1-refused (details-v1)", "connection refused"},
		{diag.TelemetryMalformed, "pod bookinfo/ratings-v1-garbage (ratings-v1)", "malformed stats"},
		{diag.TelemetryIncomplete, "pod bookinfo/ratings-v1-dies (ratings-v1)", "not found"},
		{diag.TelemetryIncomplete, "pod bookinfo/slow-v1-xyz (slow-v1)", "no answer within 300ms"},
		{diag.TelemetryIncomplete, "pod bookinfo/gone-v1-000 (gone-v1)", "not found"},
		{diag.ShortSampleInterval, "sidecars", "not over the requested 5m0s window"},
	}
	for _, w := range wantMsgs {
		found := false
		for _, m := range tr.Messages {
			found = found || (m.Code == w.code && m.Subject == w.subject && strings.Contains(m.Message, w.text))
		}
		if !found {
			t.Errorf("no %s message for %q containing %q in:\n%v", w.code, w.subject, w.text, tr.Messages)
		}
	}
	if proxy.scrapes["bookinfo/details-v1-refused"] != 1 {
		t.Errorf("a pod that failed its first scrape was scraped %d times, want 1", proxy.scrapes["bookinfo/details-v1-refused"])
	}
	if proxy.maxIn > 2 {
		t.Errorf("%d scrapes in flight at once, want at most 2", proxy.maxIn)
	}
}

func TestSidecarsTrafficAllFail(t *testing.T) {
	proxy := &podProxy{scrapes: map[string]int{}}
	s := newTestSidecars(t, proxy, 4, time.Second)
	_, err := s.Traffic(context.Background(), []PodRef{{"ns", "a", "a"}, {"ns", "b", "b"}}, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "none of 2 pods answered") || !strings.Contains(err.Error(), "not found") {
		t.Errorf("err = %v, want none answered with the first cause", err)
	}
}

func TestSidecarsTrafficWindowAndEmpty(t *testing.T) {
	proxy := &podProxy{scrapes: map[string]int{}, behave: map[string]func(http.ResponseWriter, *http.Request, int){
		"bookinfo/reviews-v1-def": fixtures(t, "reviews"),
	}}
	s := newTestSidecars(t, proxy, 0, 0)
	tr, err := s.Traffic(context.Background(), []PodRef{{"bookinfo", "reviews-v1-def", "reviews-v1"}}, 4*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// The fixtures' counters grew over 10s; read 4s apart, rates are 2.5x.
	if tr.Window != 4*time.Second || diag.Has(tr.Messages, diag.ShortSampleInterval, "") {
		t.Errorf("window %v messages %v, want 4s and no interval message", tr.Window, tr.Messages)
	}
	for _, e := range tr.Edges {
		if e.DestinationWorkload == "ratings-v1" && !near(e.RequestsPerSecond, 12.5) {
			t.Errorf("reviews -> ratings at %v rps, want 12.5", e.RequestsPerSecond)
		}
	}

	tr, err = s.Traffic(context.Background(), nil, time.Minute)
	if err != nil || len(tr.Edges) != 0 || !diag.Has(tr.Messages, diag.TelemetryIncomplete, "sidecars") {
		t.Errorf("no pods: traffic %+v, err %v", tr, err)
	}
}

func TestSidecarsTrafficCancelled(t *testing.T) {
	proxy := &podProxy{scrapes: map[string]int{}, behave: map[string]func(http.ResponseWriter, *http.Request, int){
		"ns/a": func(w http.ResponseWriter, r *http.Request, n int) {
			_, _ = io.WriteString(w, "")
		},
	}}
	s := newTestSidecars(t, proxy, 1, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	s.sleepUntil = func(ctx context.Context, _ time.Time) error {
		cancel() // Ctrl-C while waiting for the second scrape
		return ctx.Err()
	}
	_, err := s.Traffic(ctx, []PodRef{{"ns", "a", "a"}}, time.Minute)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// zeros never ends, like a sidecar streaming garbage.
type zeros struct{ read int }

func (z *zeros) Read(p []byte) (int, error) {
	z.read += len(p)
	return len(p), nil
}

// Issue #13 item 9: a sidecar's stats are read up to a limit, not whole.
func TestReadStatsIsBounded(t *testing.T) {
	z := &zeros{}
	if _, err := readStats(z); err == nil || !strings.Contains(err.Error(), "larger than 64 MiB") {
		t.Errorf("err = %v", err)
	}
	if z.read > MaxStatsBytes+1<<20 {
		t.Errorf("read %d bytes", z.read)
	}
	if b, err := readStats(strings.NewReader("# TYPE x counter\n")); err != nil || len(b) == 0 {
		t.Errorf("%q, %v", b, err)
	}
}
