package traces

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestJaegerClient(t *testing.T) {
	fixture, err := os.ReadFile("testdata/jaeger-checkout.json")
	if err != nil {
		t.Fatal(err)
	}
	end := time.UnixMicro(1_700_000_100_000_000)
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		switch r.URL.Query().Get("service") {
		case "frontend":
			w.Write(fixture)
		case "empty":
			w.Write([]byte(`{"data":null,"total":0,"limit":0,"offset":0,"errors":null}`))
		case "broken":
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"data":null,"errors":[{"code":500,"msg":"storage unavailable"}]}`))
		case "partial":
			w.Write([]byte(`{"data":null,"errors":[{"code":500,"msg":"trace not found"}]}`))
		case "html":
			w.Write([]byte(`<html>not jaeger</html>`))
		}
	}))
	defer srv.Close()

	c := &JaegerClient{BaseURL: srv.URL + "/jaeger/", HTTPClient: srv.Client()}
	spans, warns, err := c.Traces(context.Background(), Query{Service: "frontend", Operation: "GET /checkout", Lookback: 2 * time.Hour, End: end, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 22 || len(warns) != 0 {
		t.Errorf("%d spans, warnings %v", len(spans), warns)
	}
	q := got.URL.Query()
	want := map[string]string{
		"service": "frontend", "operation": "GET /checkout", "lookback": "2h", "limit": "20",
		"end": "1700000100000000", "start": "1699992900000000",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("query %s = %q, want %q", k, q.Get(k), v)
		}
	}
	if got.URL.Path != "/jaeger/api/traces" || got.Method != http.MethodGet {
		t.Errorf("request %s %s", got.Method, got.URL.Path)
	}

	spans, _, err = c.Traces(context.Background(), Query{Service: "empty"})
	if err != nil || len(spans) != 0 {
		t.Errorf("empty answer: %d spans, %v", len(spans), err)
	}
	if q := got.URL.Query(); q.Get("lookback") != "1h" || q.Get("limit") != "100" || q.Get("operation") != "" {
		t.Errorf("defaults: %v", q)
	}

	errCases := map[string]string{
		"broken":  "HTTP 500: storage unavailable",
		"partial": "trace not found",
		"html":    "has no data",
		"":        "a service is required",
	}
	for service, msg := range errCases {
		if _, _, err := c.Traces(context.Background(), Query{Service: service}); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("service %q: err = %v, want %q", service, err, msg)
		}
	}
}

func TestJaegerClientErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	c := &JaegerClient{BaseURL: srv.URL}
	if _, _, err := c.Traces(ctx, Query{Service: "a"}); err == nil || !strings.Contains(err.Error(), "is the query service reachable") {
		t.Errorf("timeout: %v", err)
	}
	for base, msg := range map[string]string{"localhost:16686": "want e.g. http://", "ftp://x": "scheme must be http or https", "": "want e.g."} {
		c := &JaegerClient{BaseURL: base}
		if _, _, err := c.Traces(context.Background(), Query{Service: "a"}); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("URL %q: err = %v, want %q", base, err, msg)
		}
	}
}
