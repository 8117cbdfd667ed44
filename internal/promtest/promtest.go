// Package promtest serves a fake Prometheus query API holding Istio's
// request series, for fast tests of the code that reads traffic from
// Prometheus (the live call graph, the graph and predict commands).
package promtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Requests is one istio_requests_total series as the client's sidecar
// reports it: workload From calling workload To (both in Namespace) through
// Service at Rate requests per second.
type Requests struct {
	Namespace, From, To, Service, Protocol string
	Rate                                   float64
}

// Serve answers instant queries: queries of istio_requests_total get the
// series, every other metric none. It returns the server's URL; the server
// stops when the test ends.
func Serve(t testing.TB, series ...Requests) string {
	t.Helper()
	type sample struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	var requests []sample
	for _, s := range series {
		requests = append(requests, sample{Metric: map[string]string{"reporter": "source",
			"source_workload": s.From, "source_workload_namespace": s.Namespace,
			"destination_workload": s.To, "destination_workload_namespace": s.Namespace,
			"destination_service_name": s.Service, "request_protocol": s.Protocol, "connection_security_policy": "unknown"},
			Value: [2]any{1700000000, fmt.Sprint(s.Rate)}})
	}
	body, err := json.Marshal(requests)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		result := "[]"
		if len(requests) > 0 && strings.Contains(r.FormValue("query"), "istio_requests_total") {
			result = string(body)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":%s}}`, result)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Unreachable returns a URL nothing listens on any more.
func Unreachable(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}
