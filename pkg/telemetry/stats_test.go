package telemetry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseStatsFixture(t *testing.T) {
	series, problems, err := parseStats(readFixture(t, "stats-reviews-1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 0 {
		t.Errorf("problems: %v", problems)
	}
	count := map[metric]int{}
	for _, p := range series {
		count[p.metric]++
		if p.labels[labelReporter] == "" || p.labels[labelSourceWorkload] == "" || p.labels[labelRequestProtocol] == "" {
			t.Errorf("series lacks edge labels: %+v", p)
		}
	}
	// Two response codes of productpage -> reviews and one of reviews ->
	// ratings; non-Istio families and the duration histogram are ignored.
	want := map[metric]int{
		requests: 3, requestBytesSum: 3, requestBytesCount: 3, responseBytesSum: 3, responseBytesCount: 3,
		requestMessages: 1, responseMessages: 1,
		tcpSentBytes: 1, tcpReceivedBytes: 1, tcpConnectionsOpened: 1,
	}
	for m := metric(0); m < numMetrics; m++ {
		if count[m] != want[m] {
			t.Errorf("%s: %d series, want %d", seriesName[m], count[m], want[m])
		}
	}
	id := `istio_tcp_sent_bytes_total{`
	for k, p := range series {
		if strings.HasPrefix(k, id) && p.value != 34560000 {
			t.Errorf("%s = %v, want 34560000", k, p.value)
		}
	}
}

// TestStatsRatesFixtures runs the whole computation over two scrapes of two
// pods taken 10s apart.
func TestStatsRatesFixtures(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	var samples []sample
	for _, pod := range []string{"productpage", "reviews"} {
		var snaps [2]statsSnapshot
		for i := range snaps {
			series, problems, err := parseStats(readFixture(t, "stats-"+pod+"-"+string(rune('1'+i))+".txt"))
			if err != nil || len(problems) > 0 {
				t.Fatalf("%s scrape %d: %v %v", pod, i+1, err, problems)
			}
			snaps[i] = statsSnapshot{at: t0.Add(time.Duration(i) * 10 * time.Second), series: series}
		}
		s, resets, err := statsRates(snaps[0], snaps[1])
		if err != nil || resets != 0 {
			t.Fatalf("%s: resets %d, %v", pod, resets, err)
		}
		samples = append(samples, s...)
	}
	edges, msgs := assemble(samples)
	checkFixtureEdges(t, edges, msgs)
}

// checkFixtureEdges asserts the traffic that the testdata/stats-* fixtures
// hold between their two scrapes, 10s apart.
func checkFixtureEdges(t *testing.T, edges []EdgeTraffic, msgs []diag.Message) {
	t.Helper()
	want := []EdgeTraffic{{
		SourceWorkload: "productpage-v1", SourceNamespace: "bookinfo",
		DestinationWorkload: "details-v1", DestinationNamespace: "bookinfo", DestinationService: "details",
		Protocol: "http", ConnectionSecurity: "unknown", Reporter: ReporterSource,
		RequestsPerSecond: 10, HasSizes: true, MeanRequestBytes: 250, MeanResponseBytes: 420,
	}, {
		SourceWorkload: "productpage-v1", SourceNamespace: "bookinfo",
		DestinationWorkload: "reviews-v1", DestinationNamespace: "bookinfo", DestinationService: "reviews",
		Protocol: "http", ConnectionSecurity: "mutual_tls", Reporter: ReporterSource,
		RequestsPerSecond: 10, HasSizes: true, MeanRequestBytes: 300, MeanResponseBytes: 980,
	}, {
		SourceWorkload: "reviews-v1", SourceNamespace: "bookinfo",
		DestinationWorkload: "ratings-v1", DestinationNamespace: "bookinfo", DestinationService: "ratings",
		Protocol: "grpc", ConnectionSecurity: "unknown", Reporter: ReporterSource,
		RequestsPerSecond: 5, HasSizes: true, MeanRequestBytes: 80, MeanResponseBytes: 300,
		RequestMessagesPerSecond: 5, ResponseMessagesPerSecond: 15,
	}, {
		SourceWorkload: "reviews-v1", SourceNamespace: "bookinfo",
		DestinationWorkload: "mongodb-v1", DestinationNamespace: "db", DestinationService: "mongodb",
		Protocol: "tcp", ConnectionSecurity: "unknown", Reporter: ReporterSource,
		TCPSentBytesPerSecond: 4000, TCPReceivedBytesPerSecond: 1000, TCPConnectionsOpenedPerSecond: 0.5,
	}, {
		SourceWorkload: "istio-ingressgateway", SourceNamespace: "istio-system",
		DestinationWorkload: "productpage-v1", DestinationNamespace: "bookinfo", DestinationService: "productpage",
		Protocol: "http", ConnectionSecurity: "mutual_tls", Reporter: ReporterDestination,
		RequestsPerSecond: 20, HasSizes: true, MeanRequestBytes: 600, MeanResponseBytes: 5000,
	}}
	if len(edges) != len(want) {
		t.Fatalf("got %d edges, want %d:\n%+v", len(edges), len(want), edges)
	}
	for i := range want {
		if !edgeNear(edges[i], want[i]) {
			t.Errorf("edge %d =\n%+v\nwant\n%+v", i, edges[i], want[i])
		}
	}
	if !diag.Has(msgs, diag.ReporterFallback, "istio-system/istio-ingressgateway -> bookinfo/productpage-v1") {
		t.Errorf("no fallback message for the gateway edge: %v", msgs)
	}
}

// edgeNear compares edges, numbers within tolerance.
func edgeNear(a, b EdgeTraffic) bool {
	nums := func(e EdgeTraffic) []float64 {
		return []float64{e.RequestsPerSecond, e.MeanRequestBytes, e.MeanResponseBytes,
			e.RequestMessagesPerSecond, e.ResponseMessagesPerSecond,
			e.TCPSentBytesPerSecond, e.TCPReceivedBytesPerSecond, e.TCPConnectionsOpenedPerSecond}
	}
	na, nb := nums(a), nums(b)
	for i := range na {
		if !near(na[i], nb[i]) {
			return false
		}
	}
	a.RequestsPerSecond, a.MeanRequestBytes, a.MeanResponseBytes = 0, 0, 0
	a.RequestMessagesPerSecond, a.ResponseMessagesPerSecond = 0, 0
	a.TCPSentBytesPerSecond, a.TCPReceivedBytesPerSecond, a.TCPConnectionsOpenedPerSecond = 0, 0, 0
	b.RequestsPerSecond, b.MeanRequestBytes, b.MeanResponseBytes = 0, 0, 0
	b.RequestMessagesPerSecond, b.ResponseMessagesPerSecond = 0, 0
	b.TCPSentBytesPerSecond, b.TCPReceivedBytesPerSecond, b.TCPConnectionsOpenedPerSecond = 0, 0, 0
	return a == b
}

const tinyStats = `# TYPE istio_requests_total counter
istio_requests_total{reporter="source",source_workload="a",source_workload_namespace="ns",destination_workload="b",destination_workload_namespace="ns",destination_service_name="b",request_protocol="http",response_code="200",connection_security_policy="unknown"} %s
# TYPE istio_tcp_sent_bytes_total counter
istio_tcp_sent_bytes_total{reporter="source",source_workload="a",source_workload_namespace="ns",destination_workload="c",destination_workload_namespace="ns",destination_service_name="c",request_protocol="tcp",connection_security_policy="unknown"} %s
`

func TestStatsRatesResetsAndNewSeries(t *testing.T) {
	parse := func(reqs, tcp string) map[string]statsPoint {
		t.Helper()
		text := strings.Replace(strings.Replace(tinyStats, "%s", reqs, 1), "%s", tcp, 1)
		s, problems, err := parseStats([]byte(text))
		if err != nil || len(problems) > 0 {
			t.Fatalf("parsing: %v %v", err, problems)
		}
		return s
	}
	t0 := time.Unix(1700000000, 0)
	before := parse("1000", "500")
	delete(before, `istio_tcp_sent_bytes_total{connection_security_policy="unknown",destination_service_name="c",destination_workload="c",destination_workload_namespace="ns",reporter="source",request_protocol="tcp",source_workload="a",source_workload_namespace="ns"}`)
	if len(before) != 1 {
		t.Fatalf("series identity changed? %v", before)
	}
	after := parse("40", "200") // requests reset to 0 and counted 40; tcp new, 200 since creation
	samples, resets, err := statsRates(statsSnapshot{at: t0, series: before}, statsSnapshot{at: t0.Add(4 * time.Second), series: after})
	if err != nil {
		t.Fatal(err)
	}
	if resets != 1 {
		t.Errorf("resets = %d, want 1", resets)
	}
	got := map[metric]float64{}
	for _, s := range samples {
		got[s.metric] = s.perSec
	}
	if !near(got[requests], 10) || !near(got[tcpSentBytes], 50) {
		t.Errorf("rates = %v, want requests 10/s (from the reset) and tcp 50/s (new series)", got)
	}

	if _, _, err := statsRates(statsSnapshot{at: t0, series: before}, statsSnapshot{at: t0, series: after}); err == nil {
		t.Error("scrapes at the same instant: want an error")
	}
}

func TestParseStatsMalformed(t *testing.T) {
	tests := []struct {
		name         string
		text         string
		wantErr      bool
		wantProblems int
		wantSeries   int
	}{
		{name: "empty", text: ""},
		{name: "garbage", text: "this is not {prometheus text\n", wantErr: true},
		{name: "html error page", text: "<html><body>502 Bad Gateway</body></html>\n", wantErr: true},
		{name: "bad value", text: `istio_requests_total{reporter="source"} twelve` + "\n", wantErr: true},
		{name: "unterminated label", text: `istio_requests_total{reporter="source} 1` + "\n", wantErr: true},
		{name: "second TYPE", text: "# TYPE istio_requests_total counter\n# TYPE istio_requests_total gauge\n", wantErr: true},
		{name: "NaN and negative are skipped, the rest kept", text: "# TYPE istio_requests_total counter\n" +
			`istio_requests_total{reporter="source",response_code="200"} NaN` + "\n" +
			`istio_requests_total{reporter="source",response_code="503"} -3` + "\n" +
			`istio_requests_total{reporter="source",response_code="404"} 7` + "\n",
			wantProblems: 2, wantSeries: 1},
		{name: "untyped histogram parts", text: `istio_request_bytes_sum{reporter="source"} 300` + "\n" +
			`istio_request_bytes_count{reporter="source"} 1` + "\n",
			wantSeries: 2},
		{name: "counter declared as histogram", text: "# TYPE istio_requests_total histogram\n" +
			`istio_requests_total_count{reporter="source"} 1` + "\n", wantProblems: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			series, problems, err := parseStats([]byte(tt.text))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if len(problems) != tt.wantProblems || len(series) != tt.wantSeries {
				t.Errorf("got %d problems %v and %d series, want %d and %d", len(problems), problems, len(series), tt.wantProblems, tt.wantSeries)
			}
		})
	}
}

// FuzzParseStats makes sure no input panics or yields impossible values.
func FuzzParseStats(f *testing.F) {
	f.Add(readFixture(f, "stats-reviews-1.txt")[:1500])
	f.Add([]byte(tinyStats))
	f.Add([]byte("# TYPE istio_request_bytes histogram\nistio_request_bytes_bucket{le=\"+Inf\"} 1\nistio_request_bytes_sum 5\nistio_request_bytes_count 1\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		series, _, err := parseStats(text)
		if err != nil {
			return
		}
		for id, p := range series {
			if p.value < 0 || p.value != p.value {
				t.Errorf("%s has impossible value %v", id, p.value)
			}
		}
	})
}
