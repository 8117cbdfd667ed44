//go:build integration

package telemetry

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// These tests query a real Prometheus holding the series that
// hack/prometheus/gen writes (see its topology for the rates asserted here).
// Start it with `eval "$(hack/prometheus/run.sh)"`; stop it with
// `hack/prometheus/run.sh stop`.

const (
	prometheusURLEnv = "MESHINSIGHT_PROMETHEUS_URL"
	prometheusAtEnv  = "MESHINSIGHT_PROMETHEUS_AT"
)

// realPrometheus returns a source for the test Prometheus, evaluating at
// the end of the generated data. It fails, never skips, when none runs.
func realPrometheus(t *testing.T) *Prometheus {
	t.Helper()
	url := os.Getenv(prometheusURLEnv)
	if url == "" {
		t.Fatalf("%s is not set: start the test Prometheus with `eval \"$(hack/prometheus/run.sh)\"`", prometheusURLEnv)
	}
	p, err := NewPrometheusFromURL(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.At = dataEnd(t, url)
	return p
}

// dataEnd is the time of the last generated sample: from
// MESHINSIGHT_PROMETHEUS_AT, or else from the marker series the generator
// writes.
func dataEnd(t *testing.T, url string) time.Time {
	t.Helper()
	if s := os.Getenv(prometheusAtEnv); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want Unix seconds: %v", prometheusAtEnv, s, err)
		}
		return time.Unix(sec, 0)
	}
	client, err := promapi.NewClient(promapi.Config{Address: url})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, _, _, err := promv1.NewAPI(client).Query(ctx, "last_over_time(meshinsight_testdata_end_timestamp_seconds[1y])", time.Now())
	if err != nil {
		t.Fatalf("finding the end of the test data at %s: %v", url, err)
	}
	vec, ok := v.(model.Vector)
	if !ok || len(vec) != 1 {
		t.Fatalf("no meshinsight_testdata_end_timestamp_seconds at %s: was it started by hack/prometheus/run.sh?", url)
	}
	return time.Unix(int64(vec[0].Value), 0)
}

func wantEdge(src, srcNs, dst, dstNs, svc, proto, sec, reporter string) EdgeTraffic {
	return EdgeTraffic{SourceWorkload: src, SourceNamespace: srcNs, DestinationWorkload: dst, DestinationNamespace: dstNs,
		DestinationService: svc, Protocol: proto, ConnectionSecurity: sec, Reporter: reporter}
}

func httpEdge(e EdgeTraffic, rps, req, resp float64) EdgeTraffic {
	e.RequestsPerSecond, e.MeanRequestBytes, e.MeanResponseBytes, e.HasSizes = rps, req, resp, true
	return e
}

// The edges of the generated data, by name.
var (
	pdDetails = httpEdge(wantEdge("productpage-v1", "bookinfo", "details-v1", "bookinfo", "details", "http", "mutual_tls", ReporterSource), 10, 250, 420)
	// The destination saw 9.8 rps: the source's 10 counts, not the sum.
	pdReviews = httpEdge(wantEdge("productpage-v1", "bookinfo", "reviews-v1", "bookinfo", "reviews", "http", "mutual_tls", ReporterSource), 10, 300, 980)
	rtMongo   = func() EdgeTraffic {
		e := wantEdge("ratings-v2", "bookinfo", "mongodb-v1", "db", "mongodb", "tcp", "mutual_tls", ReporterSource)
		e.TCPSentBytesPerSecond, e.TCPReceivedBytesPerSecond, e.TCPConnectionsOpenedPerSecond = 4000, 1000, 0.5
		return e
	}()
	rvRatings = func() EdgeTraffic {
		e := httpEdge(wantEdge("reviews-v2", "bookinfo", "ratings-v1", "bookinfo", "ratings", "grpc", "mutual_tls", ReporterSource), 5, 80, 300)
		e.RequestMessagesPerSecond, e.ResponseMessagesPerSecond = 5, 15
		return e
	}()
	gwProduct = httpEdge(wantEdge("istio-ingressgateway", "istio-system", "productpage-v1", "bookinfo", "productpage", "http", "mutual_tls", ReporterSource), 20, 600, 5000)
	unDetails = httpEdge(wantEdge("unknown", "unknown", "details-v1", "bookinfo", "details", "http", "none", ReporterDestination), 2, 150, 420)
	shopCart  = httpEdge(wantEdge("frontend", "shop", "cart", "shop", "cart", "http", "mutual_tls", ReporterWaypoint), 7, 120, 640)
	legacyAB  = httpEdge(wantEdge("a-v1", "legacy", "b-v1", "legacy", "b", "http", "unknown", ReporterSource), 3, 100, 200)

	// Ambient and mixed: each call once per protocol its proxies saw it as
	// (pkg/cluster joins the L4 and L7 reports of a call into one edge).
	ambFrontAPI   = httpEdge(wantEdge("front", "ambient", "api", "ambient", "api", "http", "mutual_tls", ReporterWaypoint), 50, 200, 1500)
	ambFrontWP    = tcpEdge(wantEdge("front", "ambient", "wp", "ambient", "api", "tcp", "mutual_tls", ReporterSource), 75000, 10000, 0.5)
	ambWPAPI      = tcpEdge(wantEdge("wp", "ambient", "api", "ambient", "api", "tcp", "mutual_tls", ReporterDestination), 75000, 10000, 0.5)
	ambAPIStore   = tcpEdge(wantEdge("api", "ambient", "store", "ambient", "store", "tcp", "mutual_tls", ReporterSource), 8000, 2000, 1)
	mixWebCart    = httpEdge(wantEdge("web", "mixed", "cart", "mixed", "cart", "http", "unknown", ReporterSource), 20, 300, 900)
	mixWebCartL4  = tcpEdge(wantEdge("web", "mixed", "cart", "mixed", "cart", "tcp", "mutual_tls", ReporterDestination), 18000, 6000, 0.2)
	mixCartPay    = httpEdge(wantEdge("cart", "mixed", "pay", "mixed", "pay", "http", "mutual_tls", ReporterDestination), 8, 150, 250)
	mixCartPayL4  = tcpEdge(wantEdge("cart", "mixed", "pay", "mixed", "pay", "tcp", "mutual_tls", ReporterSource), 2000, 1200, 0.1)
	podClientAPI2 = httpEdge(wantEdge("client", "pods", "api2", "pods", "api2", "http", "mutual_tls", ReporterWaypoint), 6, 90, 400)
	podClientDB   = httpEdge(wantEdge("client", "pods", "db", "pods", "db", "http", "mutual_tls", ReporterWaypoint), 12, 100, 700)
	podClientDBL4 = tcpEdge(wantEdge("client", "pods", "db", "pods", "db", "tcp", "mutual_tls", ReporterSource), 8400, 1200, 0.3)
)

func tcpEdge(e EdgeTraffic, sent, received, opened float64) EdgeTraffic {
	e.TCPSentBytesPerSecond, e.TCPReceivedBytesPerSecond, e.TCPConnectionsOpenedPerSecond = sent, received, opened
	return e
}

func TestPrometheusRealTraffic(t *testing.T) {
	p := realPrometheus(t)
	tests := []struct {
		name       string
		namespaces []string
		window     time.Duration
		want       []EdgeTraffic
		fallbacks  []string // subjects of ReporterFallback messages
	}{{
		name:       "bookinfo: edges with either end in it",
		namespaces: []string{"bookinfo"},
		window:     5 * time.Minute,
		want:       []EdgeTraffic{pdDetails, pdReviews, rtMongo, rvRatings, gwProduct, unDetails},
		fallbacks:  []string{"unknown/unknown -> bookinfo/details-v1"},
	}, {
		name:       "longer window, same constant rates; the edge that stopped 20m ago stays out",
		namespaces: []string{"bookinfo"},
		window:     10 * time.Minute,
		want:       []EdgeTraffic{pdDetails, pdReviews, rtMongo, rvRatings, gwProduct, unDetails},
	}, {
		name:       "db: only the TCP edge into it",
		namespaces: []string{"db"},
		window:     5 * time.Minute,
		want:       []EdgeTraffic{rtMongo},
	}, {
		name:       "ambient namespace: the waypoint reports",
		namespaces: []string{"shop"},
		window:     5 * time.Minute,
		want:       []EdgeTraffic{shopCart},
		fallbacks:  []string{"shop/frontend -> shop/cart"},
	}, {
		name:       "ambient namespace with a waypoint: L7 from the waypoint, L4 legs from the ztunnels",
		namespaces: []string{"ambient"},
		window:     5 * time.Minute,
		want:       []EdgeTraffic{ambAPIStore, ambFrontAPI, ambFrontWP, ambWPAPI},
		fallbacks:  []string{"ambient/front -> ambient/api", "ambient/wp -> ambient/api"},
	}, {
		name:   "all namespaces",
		window: 5 * time.Minute,
		want: []EdgeTraffic{ambAPIStore, ambFrontAPI, ambFrontWP, ambWPAPI, pdDetails, pdReviews, rtMongo, rvRatings, gwProduct, legacyAB,
			mixCartPay, mixCartPayL4, mixWebCart, mixWebCartL4, podClientAPI2, podClientDB, podClientDBL4, shopCart, unDetails},
	}, {
		name:       "regex characters in a name match literally",
		namespaces: []string{"book.*", "d|b"},
		window:     5 * time.Minute,
		want:       nil,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := p.Traffic(context.Background(), tt.namespaces, tt.window)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Source != SourcePrometheus || tr.Window != tt.window {
				t.Errorf("source %q window %v", tr.Source, tr.Window)
			}
			if len(tr.Edges) != len(tt.want) {
				t.Fatalf("got %d edges, want %d:\n%+v\nmessages: %v", len(tr.Edges), len(tt.want), tr.Edges, tr.Messages)
			}
			for i := range tt.want {
				if !edgeNear(tr.Edges[i], tt.want[i]) {
					t.Errorf("edge %d =\n%+v\nwant\n%+v", i, tr.Edges[i], tt.want[i])
				}
			}
			for _, subject := range tt.fallbacks {
				if !diag.Has(tr.Messages, diag.ReporterFallback, subject) {
					t.Errorf("no fallback message for %s: %v", subject, tr.Messages)
				}
			}
			if len(tt.want) == 0 && !diag.Has(tr.Messages, diag.TelemetryIncomplete, "prometheus") {
				t.Errorf("no edges and no message saying so: %v", tr.Messages)
			}
		})
	}
}

func TestPrometheusRealUnreachable(t *testing.T) {
	p, err := NewPrometheusFromURL("http://"+closedPort(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = p.Traffic(context.Background(), []string{"bookinfo"}, 5*time.Minute)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to notice a closed port", d)
	}
	t.Logf("the caller would print: %v; falling back to sidecar stats", err)
}
