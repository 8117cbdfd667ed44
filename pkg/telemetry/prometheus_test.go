package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

func TestServiceProxyURL(t *testing.T) {
	tests := []struct {
		host, ns, svc, port, want string
	}{
		{"https://10.0.0.1:6443", "istio-system", "prometheus", "9090",
			"https://10.0.0.1:6443/api/v1/namespaces/istio-system/services/prometheus:9090/proxy/"},
		{"https://api.example.com/", "monitoring", "https:prometheus-k8s", "web",
			"https://api.example.com/api/v1/namespaces/monitoring/services/https:prometheus-k8s:web/proxy/"},
		{"127.0.0.1:6443", "istio-system", "prometheus", "",
			"https://127.0.0.1:6443/api/v1/namespaces/istio-system/services/prometheus/proxy/"},
		{"https://rancher.example.com/k8s/clusters/c-m-abc", "istio-system", "prometheus", "9090",
			"https://rancher.example.com/k8s/clusters/c-m-abc/api/v1/namespaces/istio-system/services/prometheus:9090/proxy/"},
	}
	for _, tt := range tests {
		if got := ServiceProxyURL(tt.host, tt.ns, tt.svc, tt.port); got != tt.want {
			t.Errorf("ServiceProxyURL(%q, %q, %q, %q) = %q, want %q", tt.host, tt.ns, tt.svc, tt.port, got, tt.want)
		}
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestPrometheusUnreachable(t *testing.T) {
	addr := "http://" + closedPort(t)
	p, err := NewPrometheusFromURL(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Traffic(context.Background(), nil, 5*time.Minute)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "Prometheus unreachable at "+addr+": ") || !strings.Contains(msg, "connection refused") {
		t.Errorf("err = %q, want it to name the URL and the cause", msg)
	}
}

// hang answers nothing until the client gives up, or 10s pass. It reads the
// body first: the server notices a client hanging up only after that.
func hang(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

func TestPrometheusErrors(t *testing.T) {
	tests := []struct {
		name            string
		handler         http.HandlerFunc
		timeout         time.Duration
		wantUnreachable bool
		wantIn          string
	}{{
		name:            "no answer in time",
		handler:         hang,
		timeout:         200 * time.Millisecond,
		wantUnreachable: true,
		wantIn:          "no answer within 200ms",
	}, {
		name: "service proxy finds no service",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"services \"prometheus\" not found","reason":"NotFound","code":404}`)
		},
		wantUnreachable: true,
		wantIn:          "404",
	}, {
		name: "not a Prometheus",
		handler: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "<html>Grafana</html>")
		},
		wantUnreachable: true,
	}, {
		name: "bad query",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"parse error"}`)
		},
		wantUnreachable: false,
		wantIn:          "bad_data: parse error",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			p, err := NewPrometheusFromURL(srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			p.Timeout = tt.timeout
			_, err = p.Traffic(context.Background(), []string{"bookinfo"}, 5*time.Minute)
			if err == nil {
				t.Fatal("want an error")
			}
			if errors.Is(err, ErrUnreachable) != tt.wantUnreachable {
				t.Errorf("err = %v; ErrUnreachable = %v, want %v", err, !tt.wantUnreachable, tt.wantUnreachable)
			}
			if !strings.Contains(err.Error(), srv.URL) || !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("err = %q, want the URL and %q in it", err, tt.wantIn)
			}
		})
	}
}

func TestPrometheusCallerCancelIsNotUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(hang))
	defer srv.Close()
	p, err := NewPrometheusFromURL(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = p.Traffic(ctx, nil, time.Minute)
	if err == nil || errors.Is(err, ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the caller's deadline, not ErrUnreachable", err)
	}
}

// fakePrometheus answers instant queries with one canned vector per metric
// and records the queries and evaluation times it saw.
type fakePrometheus struct {
	mu      sync.Mutex
	queries []string
	times   []string
	paths   []string
	auth    []string
	vectors map[string]string // metric name → JSON result array
}

func (f *fakePrometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	q := r.Form.Get("query")
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.times = append(f.times, r.Form.Get("time"))
	f.paths = append(f.paths, r.URL.Path)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	result := "[]"
	warnings := ""
	for name, v := range f.vectors {
		if strings.Contains(q, name+"{") {
			result = v
		}
	}
	if strings.Contains(q, "istio_request_messages_total") {
		warnings = `,"warnings":["results truncated"]`
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":%s}%s}`, result, warnings)
}

func vectorJSON(t *testing.T, rows ...map[string]string) string {
	t.Helper()
	type row struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	out := make([]row, len(rows))
	for i, r := range rows {
		v := r["__value"]
		delete(r, "__value")
		out[i] = row{Metric: r, Value: [2]any{1700000000.0, v}}
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func edgeLabels(reporter, src, dst, proto, sec, value string) map[string]string {
	return map[string]string{
		"reporter": reporter, "source_workload": src, "source_workload_namespace": "bookinfo",
		"destination_workload": dst, "destination_workload_namespace": "bookinfo",
		"destination_service_name": strings.TrimSuffix(dst, "-v1"), "request_protocol": proto,
		"connection_security_policy": sec, "__value": value,
	}
}

func TestPrometheusTrafficFromFake(t *testing.T) {
	fake := &fakePrometheus{vectors: map[string]string{
		"istio_requests_total": vectorJSON(t,
			edgeLabels("source", "productpage-v1", "reviews-v1", "http", "unknown", "10"),
			edgeLabels("destination", "productpage-v1", "reviews-v1", "http", "mutual_tls", "9.8")),
		"istio_request_bytes_sum":   vectorJSON(t, edgeLabels("source", "productpage-v1", "reviews-v1", "http", "unknown", "3000")),
		"istio_request_bytes_count": vectorJSON(t, edgeLabels("source", "productpage-v1", "reviews-v1", "http", "unknown", "10")),
		"istio_response_bytes_sum": vectorJSON(t, edgeLabels("source", "productpage-v1", "reviews-v1", "http", "unknown", "9800"),
			edgeLabels("destination", "productpage-v1", "reviews-v1", "http", "mutual_tls", "NaN")),
		"istio_response_bytes_count": vectorJSON(t, edgeLabels("source", "productpage-v1", "reviews-v1", "http", "unknown", "10")),
	}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	p, err := NewPrometheusFromURL(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.At = time.Unix(1700000000, 0)
	tr, err := p.Traffic(context.Background(), []string{"bookinfo"}, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Source != SourcePrometheus || tr.Window != 5*time.Minute || len(tr.Edges) != 1 {
		t.Fatalf("traffic = %+v", tr)
	}
	e := tr.Edges[0]
	if !near(e.RequestsPerSecond, 10) || !near(e.MeanRequestBytes, 300) || !near(e.MeanResponseBytes, 980) ||
		!e.HasSizes || e.ConnectionSecurity != "mutual_tls" || e.Reporter != ReporterSource {
		t.Errorf("edge = %+v", e)
	}
	if len(fake.queries) != int(numMetrics) {
		t.Errorf("%d queries, want %d", len(fake.queries), numMetrics)
	}
	for _, ts := range fake.times {
		if ts != "1700000000" && ts != "1700000000.000" {
			t.Errorf("evaluation time %q, want p.At", ts)
		}
	}
	if !diag.Has(tr.Messages, diag.TelemetryIncomplete, "prometheus") {
		t.Errorf("Prometheus' warning not reported: %v", tr.Messages)
	}
	if !diag.Has(tr.Messages, diag.TelemetryMalformed, "reviews-v1") {
		t.Errorf("NaN not reported: %v", tr.Messages)
	}
}

func TestPrometheusNoTraffic(t *testing.T) {
	srv := httptest.NewServer(&fakePrometheus{})
	defer srv.Close()
	p, err := NewPrometheusFromURL(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := p.Traffic(context.Background(), []string{"empty"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range tr.Messages {
		found = found || (m.Code == diag.TelemetryIncomplete && strings.Contains(m.Message, "no Istio traffic metrics for namespaces empty"))
	}
	if len(tr.Edges) != 0 || !found {
		t.Errorf("traffic = %+v, want no edges and a message naming the namespace", tr)
	}
}

func TestPrometheusViaServiceProxy(t *testing.T) {
	fake := &fakePrometheus{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	p, err := NewPrometheusViaServiceProxy(&rest.Config{Host: srv.URL, BearerToken: "s3cret"}, "istio-system", "prometheus", "9090")
	if err != nil {
		t.Fatal(err)
	}
	if want := srv.URL + "/api/v1/namespaces/istio-system/services/prometheus:9090/proxy"; p.URL() != want {
		t.Errorf("URL() = %q, want %q", p.URL(), want)
	}
	if _, err := p.Traffic(context.Background(), nil, time.Minute); err != nil {
		t.Fatal(err)
	}
	for i, path := range fake.paths {
		if path != "/api/v1/namespaces/istio-system/services/prometheus:9090/proxy/api/v1/query" || fake.auth[i] != "Bearer s3cret" {
			t.Errorf("request %d: path %q auth %q", i, path, fake.auth[i])
		}
	}
}

func TestNewPrometheusFromURL(t *testing.T) {
	p, err := NewPrometheusFromURL("http://admin:pw@prometheus.istio-system:9090", nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(p.URL(), "pw") {
		t.Errorf("URL() = %q leaks the password", p.URL())
	}
	for _, bad := range []string{"", "prometheus:9090", "://x", "http://"} {
		if _, err := NewPrometheusFromURL(bad, nil); err == nil {
			t.Errorf("NewPrometheusFromURL(%q): want an error", bad)
		}
	}
	if _, err := p.Traffic(context.Background(), nil, 0); err == nil {
		t.Error("window 0: want an error")
	}
}

// Issue #13 item 9: an answer without end (a broken proxy, a hostile
// server) fails at the limit instead of filling memory.
func TestPrometheusAnswerIsBounded(t *testing.T) {
	var mu sync.Mutex
	sent := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := []byte(strings.Repeat(" ", 64<<10))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			mu.Lock()
			sent += len(chunk)
			mu.Unlock()
		}
	}))
	defer srv.Close()
	p, err := newPrometheusFromURL(srv.URL, nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	p.Timeout = 5 * time.Second
	_, err = p.Traffic(context.Background(), nil, 5*time.Minute)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Fatalf("err = %v, want an answer too large", err)
	}
	srv.CloseClientConnections()
	mu.Lock()
	defer mu.Unlock()
	if sent > 64<<20 {
		t.Errorf("the server could send %d MiB before the client gave up", sent>>20)
	}
}
