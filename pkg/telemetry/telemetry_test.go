package telemetry

import (
	"math"
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

const tolerance = 1e-9

func near(a, b float64) bool { return math.Abs(a-b) <= tolerance*math.Max(1, math.Abs(b)) }

func edge(src, dst, proto string) edgeKey {
	return edgeKey{
		srcWorkload: src, srcNamespace: "bookinfo",
		dstWorkload: dst, dstNamespace: "bookinfo", dstService: strings.TrimSuffix(dst, "-v1"),
		protocol: proto,
	}
}

func TestAssembleDedupesReporters(t *testing.T) {
	pr := edge("productpage-v1", "reviews-v1", "http")
	unknown := edgeKey{srcWorkload: "unknown", srcNamespace: "unknown", dstWorkload: "details-v1",
		dstNamespace: "bookinfo", dstService: "details", protocol: "http"}
	ambient := edge("frontend", "cart", "http")
	tcp := edgeKey{srcWorkload: "reviews-v1", srcNamespace: "bookinfo", dstWorkload: "mongodb-v1",
		dstNamespace: "db", dstService: "mongodb", protocol: "tcp"}

	samples := []sample{
		// Both sides report productpage -> reviews: the source's figures
		// count, never the sum; security comes from the destination.
		{requests, "source", pr, "unknown", 9.5},
		{requests, "source", pr, "unknown", 0.5}, // a second response code
		{requestBytesSum, "source", pr, "unknown", 3000},
		{requestBytesCount, "source", pr, "unknown", 10},
		{responseBytesSum, "source", pr, "unknown", 9800},
		{responseBytesCount, "source", pr, "unknown", 10},
		{requests, "destination", pr, "mutual_tls", 9.8},
		{requestBytesSum, "destination", pr, "mutual_tls", 99999},
		{requestBytesCount, "destination", pr, "mutual_tls", 9.8},
		// A client without a sidecar: only the destination reports.
		{requests, "destination", unknown, "none", 2},
		// Ambient with a waypoint: waypoint wins over destination.
		{requests, "waypoint", ambient, "mutual_tls", 7},
		{requests, "destination", ambient, "mutual_tls", 6},
		// TCP: bytes and connections, no requests.
		{tcpSentBytes, "source", tcp, "unknown", 4000},
		{tcpReceivedBytes, "source", tcp, "unknown", 1000},
		{tcpConnectionsOpened, "source", tcp, "unknown", 0.5},
		{tcpSentBytes, "destination", tcp, "mutual_tls", 3990},
		// Sizes without requests: an idle edge, dropped.
		{requestBytesSum, "source", edge("a", "b", "http"), "unknown", 0},
	}
	edges, msgs := assemble(samples)
	if len(edges) != 4 {
		t.Fatalf("got %d edges, want 4: %+v", len(edges), edges)
	}
	byName := map[string]EdgeTraffic{}
	for _, e := range edges {
		byName[e.SourceWorkload+">"+e.DestinationWorkload] = e
	}

	e := byName["productpage-v1>reviews-v1"]
	if e.Reporter != ReporterSource || !near(e.RequestsPerSecond, 10) || e.ConnectionSecurity != "mutual_tls" {
		t.Errorf("productpage->reviews = %+v, want source, 10 rps, mutual_tls", e)
	}
	if !e.HasSizes || !near(e.MeanRequestBytes, 300) || !near(e.MeanResponseBytes, 980) {
		t.Errorf("productpage->reviews sizes = %v %v/%v, want true 300/980", e.HasSizes, e.MeanRequestBytes, e.MeanResponseBytes)
	}

	e = byName["unknown>details-v1"]
	if e.Reporter != ReporterDestination || !near(e.RequestsPerSecond, 2) || e.ConnectionSecurity != "none" || e.HasSizes {
		t.Errorf("unknown->details = %+v, want destination, 2 rps, none, no sizes", e)
	}
	e = byName["frontend>cart"]
	if e.Reporter != ReporterWaypoint || !near(e.RequestsPerSecond, 7) {
		t.Errorf("frontend->cart = %+v, want waypoint, 7 rps", e)
	}
	e = byName["reviews-v1>mongodb-v1"]
	if e.Reporter != ReporterSource || !near(e.TCPSentBytesPerSecond, 4000) || !near(e.TCPReceivedBytesPerSecond, 1000) ||
		!near(e.TCPConnectionsOpenedPerSecond, 0.5) || e.ConnectionSecurity != "mutual_tls" || e.RequestsPerSecond != 0 {
		t.Errorf("reviews->mongodb = %+v", e)
	}

	if !diag.Has(msgs, diag.ReporterFallback, "unknown/unknown -> bookinfo/details-v1") ||
		!diag.Has(msgs, diag.ReporterFallback, "bookinfo/frontend -> bookinfo/cart") {
		t.Errorf("missing fallback messages: %v", msgs)
	}
	if diag.Has(msgs, diag.ReporterFallback, "productpage") {
		t.Errorf("productpage edge has a source reporter, yet a fallback was reported: %v", msgs)
	}
	// Sorted by source namespace, then source workload.
	if edges[0].SourceWorkload != "frontend" || edges[len(edges)-1].SourceWorkload != "unknown" {
		t.Errorf("edges not sorted: %v, ..., %v", edges[0].Name(), edges[len(edges)-1].Name())
	}
}

func TestAssembleSkipsImpossibleValues(t *testing.T) {
	k := edge("a", "b", "http")
	edges, msgs := assemble([]sample{
		{requests, "source", k, "unknown", math.NaN()},
		{requests, "source", k, "unknown", -1},
		{requests, "client", k, "unknown", 5}, // Istio < 1.5 name: unknown reporter
		{requests, "source", k, "unknown", 3},
	})
	if len(edges) != 1 || !near(edges[0].RequestsPerSecond, 3) {
		t.Fatalf("edges = %+v, want one with 3 rps", edges)
	}
	n := 0
	for _, m := range msgs {
		if m.Code == diag.TelemetryMalformed {
			n++
		}
	}
	if n != 3 {
		t.Errorf("got %d malformed messages, want 3: %v", n, msgs)
	}
}

func TestAssembleSecurityMixedPicksDominant(t *testing.T) {
	k := edge("a", "b", "http")
	edges, _ := assemble([]sample{
		{requests, "destination", k, "mutual_tls", 8},
		{requests, "destination", k, "none", 2},
	})
	if len(edges) != 1 || edges[0].ConnectionSecurity != "mutual_tls" || !near(edges[0].RequestsPerSecond, 10) {
		t.Errorf("edges = %+v, want 10 rps mostly mutual_tls", edges)
	}
}

func TestParseSource(t *testing.T) {
	for _, s := range Sources {
		if got, err := ParseSource(string(s)); err != nil || got != s {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
	if _, err := ParseSource("guess"); err == nil {
		t.Error("unknown source accepted")
	}
}

// TestAssembleOneEdgePerProtocolForEveryReporterMix: whichever of the
// reporters source, destination and waypoint report a call (L7) and
// whichever of the ztunnels report it (L4, source and destination), each
// protocol gives exactly one edge, with the preferred reporter's figures.
func TestAssembleOneEdgePerProtocolForEveryReporterMix(t *testing.T) {
	l7 := edge("front", "api", "http")
	l4 := edge("front", "api", "tcp")
	reporters := []string{ReporterSource, ReporterDestination, ReporterWaypoint}
	for mask7 := 1; mask7 < 1<<len(reporters); mask7++ {
		for mask4 := 0; mask4 < 1<<2; mask4++ {
			var samples []sample
			want7 := ""
			for i, r := range reporters {
				if mask7&(1<<i) != 0 {
					samples = append(samples, sample{requests, r, l7, "mutual_tls", float64(10 + i)})
				}
			}
			for _, r := range reporterPreference {
				if i := indexOf(reporters, r); mask7&(1<<i) != 0 {
					want7 = r
					break
				}
			}
			for i, r := range reporters[:2] {
				if mask4&(1<<i) != 0 {
					samples = append(samples, sample{tcpSentBytes, r, l4, "mutual_tls", 500})
				}
			}
			edges, _ := assemble(samples)
			wantN := 1
			if mask4 != 0 {
				wantN = 2
			}
			if len(edges) != wantN {
				t.Errorf("L7 reporters %03b, L4 reporters %02b: %d edges, want %d: %+v", mask7, mask4, len(edges), wantN, edges)
				continue
			}
			if e := edges[0]; e.Protocol != "http" || e.Reporter != want7 || !near(e.RequestsPerSecond, float64(10+indexOf(reporters, want7))) {
				t.Errorf("L7 reporters %03b: edge %+v, want reporter %s", mask7, e, want7)
			}
		}
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
