package telemetry

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRateQuery(t *testing.T) {
	by := " by (reporter, source_workload, source_workload_namespace, destination_workload, " +
		"destination_workload_namespace, destination_service_name, request_protocol, connection_security_policy)"
	tests := []struct {
		name       string
		metric     metric
		namespaces []string
		window     time.Duration
		want       string
	}{{
		name:   "all namespaces",
		metric: requests,
		window: 5 * time.Minute,
		want:   `sum(rate(istio_requests_total{reporter=~"source|waypoint|destination"}[5m]))` + by + ` > 0`,
	}, {
		name:       "either end in the namespaces",
		metric:     tcpSentBytes,
		namespaces: []string{"bookinfo", "db"},
		window:     90 * time.Second,
		want: `(sum(rate(istio_tcp_sent_bytes_total{reporter=~"source|waypoint|destination",source_workload_namespace=~"bookinfo|db"}[1m30s]))` + by +
			` or sum(rate(istio_tcp_sent_bytes_total{reporter=~"source|waypoint|destination",destination_workload_namespace=~"bookinfo|db"}[1m30s]))` + by + `) > 0`,
	}, {
		name:       "histogram sums keep zeros",
		metric:     responseBytesSum,
		namespaces: []string{"shop"},
		window:     time.Hour,
		want: `(sum(rate(istio_response_bytes_sum{reporter=~"source|waypoint|destination",source_workload_namespace=~"shop"}[1h]))` + by +
			` or sum(rate(istio_response_bytes_sum{reporter=~"source|waypoint|destination",destination_workload_namespace=~"shop"}[1h]))` + by + `)`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rateQuery(tt.metric, tt.namespaces, tt.window); got != tt.want {
				t.Errorf("rateQuery() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestNamespaceRegexMatchesLiterally checks that hostile names match only
// themselves once PromQL unquotes the string and anchors the regex.
func TestNamespaceRegexMatchesLiterally(t *testing.T) {
	names := []string{"bookinfo", "a.b", "x|y", `quo"te`, `back\slash`, "(.*)", "ns-1"}
	lit := promString(namespaceRegex(names))
	if !strings.HasPrefix(lit, `"`) || strings.Count(lit, "\n") > 0 {
		t.Fatalf("not a PromQL string literal: %s", lit)
	}
	unquoted, err := strconv.Unquote(lit)
	if err != nil {
		t.Fatalf("unquoting %s: %v", lit, err)
	}
	re, err := regexp.Compile("^(?:" + unquoted + ")$") // how Prometheus anchors =~
	if err != nil {
		t.Fatalf("compiling %q: %v", unquoted, err)
	}
	for _, n := range names {
		if !re.MatchString(n) {
			t.Errorf("%q does not match itself", n)
		}
	}
	for _, other := range []string{"aXb", "x", "y", "anything", "bookinfo2", "", "ns-10"} {
		if re.MatchString(other) {
			t.Errorf("%q matches, but is not in %q", other, names)
		}
	}
	if got := rateQuery(requests, []string{`a"b`}, time.Minute); !strings.Contains(got, `source_workload_namespace=~"a\"b"`) {
		t.Errorf("quote not escaped in %s", got)
	}
}
