package traces

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
)

const (
	traceA = "4bf92f3577b34da6a3ce929d0e0e4736"
	traceB = "5c0a3e1b2d4f6a7b8c9d0e1f2a3b4c5d"
	traceC = "6d1b4f2c3e5a7b8c9d0e1f2a3b4c5d6e"
)

var fixtures = []struct {
	file   string
	format Format
}{
	{"testdata/jaeger-checkout.json", Jaeger},
	{"testdata/zipkin-checkout.json", Zipkin},
	{"testdata/otlp-checkout.json", OTLP},
}

func readSet(t *testing.T, file string) *Set {
	t.Helper()
	set, err := ReadPath(file)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func findTrace(t *testing.T, set *Set, id string) *Trace {
	t.Helper()
	for i := range set.Traces {
		if set.Traces[i].ID == id {
			return &set.Traces[i]
		}
	}
	t.Fatalf("trace %s not found", id)
	return nil
}

func pathIDs(tr *Trace, path []int) []string {
	ids := make([]string, len(path))
	for i, s := range path {
		ids[i] = tr.Spans[s].SpanID
	}
	return ids
}

func TestParseDetectsFormat(t *testing.T) {
	for _, f := range fixtures {
		t.Run(string(f.format), func(t *testing.T) {
			data, err := os.ReadFile(f.file)
			if err != nil {
				t.Fatal(err)
			}
			got, spans, warns, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if got != f.format || len(spans) != 22 || len(warns) != 0 {
				t.Errorf("format %s, %d spans, warnings %v; want %s, 22, none", got, len(spans), warns, f.format)
			}
		})
	}
}

// The critical paths below were worked out by hand from the fixtures (see
// testdata/README.md for the timelines); the three formats carry the same traces.
func TestCriticalPathFixtures(t *testing.T) {
	want := map[string][]string{
		// Parallel fan-out to cart [1,21]ms, shipping [1,51]ms and currency [1,31]ms:
		// only shipping, the last to finish, counts. Then payment [55,95]ms, which
		// waits for its postgres query, and the producer [95.5,96]ms. The email
		// consumer [96,150]ms is asynchronous (FOLLOWS_FROM in Jaeger, CONSUMER
		// elsewhere) and not on the path although it ends last.
		traceA: {"a1", "a4", "a5", "a8", "a9", "aa", "ab"},
		// Sequential cart, shipping, payment: all on the path. b3 (cart's server
		// span) starts 0.5ms before its client span and is moved into it; b7's
		// parent bf is missing and b7 is attached to b6, the innermost span around it.
		traceB: {"b1", "b2", "b3", "b4", "b5", "b6", "b7"},
		traceC: {"c1", "c2", "c3"},
	}
	for _, f := range fixtures {
		t.Run(string(f.format), func(t *testing.T) {
			set := readSet(t, f.file)
			if len(set.Traces) != 3 {
				t.Fatalf("%d traces, want 3", len(set.Traces))
			}
			for id, path := range want {
				tr := findTrace(t, set, id)
				if got := pathIDs(tr, tr.CriticalPath(tr.Root)); !slices.Equal(got, path) {
					t.Errorf("trace %s: critical path %v, want %v", id, got, path)
				}
			}
			b := findTrace(t, set, traceB)
			idx := func(id string) int {
				return slices.IndexFunc(b.Spans, func(s Span) bool { return s.SpanID == id })
			}
			if b3, b2 := b.Spans[idx("b3")], b.Spans[idx("b2")]; b3.StartUnixNano != b2.StartUnixNano || b3.End() != b2.End() {
				t.Errorf("b3 not moved into b2: b3 [%d,%d] b2 [%d,%d]", b3.StartUnixNano, b3.End(), b2.StartUnixNano, b2.End())
			}
			if p := b.Parent[idx("b7")]; b.Spans[p].SpanID != "b6" {
				t.Errorf("b7 attached to %s, want b6", b.Spans[p].SpanID)
			}
			var problems []string
			for _, w := range set.Warnings {
				problems = append(problems, w.SpanID+":"+string(w.Problem))
			}
			if !slices.Equal(problems, []string{"b7:missing-parent", "b3:clock-skew"}) {
				t.Errorf("warnings %v", set.Warnings)
			}
		})
	}
}

func TestSummarizeFixtures(t *testing.T) {
	for _, f := range fixtures {
		t.Run(string(f.format), func(t *testing.T) {
			sum := Summarize(readSet(t, f.file), Filter{})
			if sum.Traces != 3 || sum.Requests != 3 || len(sum.Operations) != 2 {
				t.Fatalf("summary %+v", sum)
			}
			checkout := sum.Operations[0]
			if checkout.Service != "frontend" || checkout.Operation != "GET /checkout" || checkout.Requests != 2 ||
				checkout.P50 != 80*time.Millisecond || checkout.P99 != 100*time.Millisecond {
				t.Errorf("checkout = %+v", checkout)
			}
			// On the path: shipping and payment in both traces, cart only in B,
			// postgres only in A; currency never (it overlaps shipping and ends first).
			wantCalls := []PathCall{
				{"frontend", "payment", 2, 1}, {"frontend", "shipping", 2, 1},
				{"frontend", "cart", 1, 0.5}, {"payment", "postgres", 1, 0.5},
			}
			if !slices.Equal(checkout.Calls, wantCalls) {
				t.Errorf("checkout calls %v, want %v", checkout.Calls, wantCalls)
			}
			cart := sum.Operations[1]
			if cart.Operation != "GET /cart" || cart.Requests != 1 || !slices.Equal(cart.Calls, []PathCall{{"frontend", "cart", 1, 1}}) {
				t.Errorf("cart = %+v", cart)
			}
			wantAll := []Call{
				{"frontend", "cart", 3, dataplane.GRPC, (120 + 120 + 100) / 3.0, (800 + 800 + 600) / 3.0},
				{"frontend", "currency", 1, dataplane.GRPC, Unknown, Unknown},
				{"frontend", "payment", 2, dataplane.HTTP, 500, 150},
				{"frontend", "shipping", 2, dataplane.HTTP, 300, 2000},
				{"payment", "postgres", 1, "", Unknown, Unknown},
			}
			if !slices.Equal(sum.Calls, wantAll) {
				t.Errorf("calls\n%v\nwant\n%v", sum.Calls, wantAll)
			}
			if w := sum.Window(); w != 2030*time.Millisecond {
				t.Errorf("window %s, want 2.03s", w)
			}
		})
	}
}

func TestSummarizeFilter(t *testing.T) {
	set := readSet(t, "testdata/jaeger-checkout.json")
	// Requests entering payment: its server spans (a9, b7); their paths hold
	// the postgres query in A only.
	sum := Summarize(set, Filter{Service: "payment"})
	if len(sum.Operations) != 1 || sum.Requests != 2 {
		t.Fatalf("operations %+v", sum.Operations)
	}
	op := sum.Operations[0]
	if op.Operation != "POST /charge" || op.P50 != 33*time.Millisecond || op.P99 != 38*time.Millisecond ||
		!slices.Equal(op.Calls, []PathCall{{"payment", "postgres", 1, 0.5}}) {
		t.Errorf("payment = %+v", op)
	}
	sum = Summarize(set, Filter{Operation: "GET /cart"})
	if len(sum.Operations) != 1 || sum.Operations[0].Operation != "GET /cart" {
		t.Errorf("operation filter: %+v", sum.Operations)
	}
	if sum = Summarize(set, Filter{Service: "nobody"}); len(sum.Operations) != 0 || sum.Requests != 0 {
		t.Errorf("unknown service: %+v", sum.Operations)
	}
}

func TestBrokenFixture(t *testing.T) {
	set := readSet(t, "testdata/jaeger-broken.json")
	d := findTrace(t, set, "d")
	// d1's parent d0 is missing and there is no other root: d1 becomes the root.
	// d2 appears twice: the first is kept. d6 (29.5ms) is longer than its parent
	// d2 (19ms) and clamped to it. d3 and d4 are each other's parent: the cycle is
	// cut above d3 (the earlier), which is attached to d1, the innermost span
	// around it. d7 has no start time and is dropped.
	// Path: d3 ends last (35ms) and d2 (ends 20ms) before d3 starts (25ms).
	if got := pathIDs(d, d.CriticalPath(d.Root)); !slices.Equal(got, []string{"d1", "d2", "d6", "d3", "d4"}) {
		t.Errorf("critical path %v", got)
	}
	e := findTrace(t, set, "e")
	// e3 is a second parentless span: left out.
	if got := pathIDs(e, e.CriticalPath(e.Root)); !slices.Equal(got, []string{"e1", "e2"}) || len(e.Spans) != 2 {
		t.Errorf("trace e: path %v, %d spans", got, len(e.Spans))
	}
	var problems []string
	for _, w := range set.Warnings {
		problems = append(problems, w.TraceID+"/"+w.SpanID+":"+string(w.Problem))
	}
	slices.Sort(problems)
	want := []string{"d/d1:missing-parent", "d/d2:duplicate-span", "d/d3:cycle", "d/d6:clock-skew", "d/d7:bad-span", "e/e3:extra-root"}
	if !slices.Equal(problems, want) {
		t.Errorf("problems %v, want %v", problems, want)
	}
}

// span builds a test span; times in ms from 0.
func span(id, parent, service string, start, dur float64) Span {
	return Span{TraceID: "t", SpanID: id, ParentID: parent, Service: service, Operation: "op-" + id,
		StartUnixNano: 1e15 + int64(start*1e6), Duration: time.Duration(dur * 1e6),
		RequestBytes: Unknown, ResponseBytes: Unknown}
}

func async(s Span) Span { s.FollowsFrom = true; return s }

func TestAssembleAndCriticalPath(t *testing.T) {
	cases := map[string]struct {
		spans    []Span
		path     []string
		problems []Problem
	}{
		"sequential": {
			spans: []Span{span("r", "", "a", 0, 100), span("x", "r", "b", 10, 20), span("y", "r", "c", 40, 20), span("z", "r", "d", 70, 20)},
			path:  []string{"r", "x", "y", "z"},
		},
		"parallel: only the longest branch": {
			spans: []Span{span("r", "", "a", 0, 100), span("x", "r", "b", 10, 80), span("y", "r", "c", 10, 50), span("x1", "x", "b", 20, 60), span("y1", "y", "c", 20, 30)},
			path:  []string{"r", "x", "x1"},
		},
		"partial overlap: the later one, and what ended before it started": {
			// y ends last; x overlaps y's start so is passed over; w ended before y.
			spans: []Span{span("r", "", "a", 0, 100), span("w", "r", "b", 1, 4), span("x", "r", "b", 10, 30), span("y", "r", "c", 20, 60)},
			path:  []string{"r", "w", "y"},
		},
		"follows-from is not waited for": {
			spans: []Span{span("r", "", "a", 0, 100), span("x", "r", "b", 10, 20), async(span("q", "r", "c", 50, 200))},
			path:  []string{"r", "x"},
		},
		"consumer is not waited for": {
			spans: []Span{span("r", "", "a", 0, 100), span("p", "r", "a", 10, 1), func() Span { s := span("c", "p", "b", 11, 80); s.Kind = KindConsumer; return s }()},
			path:  []string{"r", "p"},
		},
		"child ends after its parent: moved": {
			spans:    []Span{span("r", "", "a", 0, 100), span("x", "r", "b", 90, 20), span("x1", "x", "b", 95, 10)},
			path:     []string{"r", "x", "x1"},
			problems: []Problem{ClockSkew},
		},
		"child longer than parent: clamped": {
			spans:    []Span{span("r", "", "a", 0, 100), span("x", "r", "b", 10, 20), span("x1", "x", "c", 5, 40)},
			path:     []string{"r", "x", "x1"},
			problems: []Problem{ClockSkew},
		},
		"1µs truncation is not reported": {
			spans: []Span{span("r", "", "a", 0, 100), span("x", "r", "b", 50, 50.001)},
			path:  []string{"r", "x"},
		},
		"missing parent: attached to the innermost enclosing span": {
			spans:    []Span{span("r", "", "a", 0, 100), span("x", "r", "a", 10, 50), span("y", "gone", "b", 20, 30)},
			path:     []string{"r", "x", "y"},
			problems: []Problem{MissingParent},
		},
		"missing root: the longest orphan": {
			spans:    []Span{span("x", "gone", "a", 0, 100), span("y", "x", "b", 10, 20), span("z", "gone2", "c", 40, 20)},
			path:     []string{"x", "y", "z"},
			problems: []Problem{MissingParent, MissingParent},
		},
		"duplicate span id: the first is kept": {
			spans:    []Span{span("r", "", "a", 0, 100), span("x", "r", "b", 10, 20), span("x", "r", "b", 10, 80)},
			path:     []string{"r", "x"},
			problems: []Problem{DuplicateSpan},
		},
		"cycle": {
			spans:    []Span{span("r", "", "a", 0, 100), span("x", "y", "b", 10, 50), span("y", "x", "b", 20, 30)},
			path:     []string{"r", "x", "y"},
			problems: []Problem{Cycle},
		},
		"self parent": {
			spans:    []Span{span("r", "r", "a", 0, 100), span("x", "r", "b", 10, 50)},
			path:     []string{"r", "x"},
			problems: []Problem{Cycle},
		},
		"only a cycle": {
			spans:    []Span{span("x", "y", "a", 0, 100), span("y", "x", "b", 10, 50)},
			path:     []string{"x", "y"},
			problems: []Problem{Cycle},
		},
		"extra root": {
			spans:    []Span{span("r", "", "a", 0, 100), span("s", "", "a", 0, 10), span("s1", "s", "a", 1, 5)},
			path:     []string{"r"},
			problems: []Problem{ExtraRoot},
		},
		"zero-length children": {
			spans: []Span{span("r", "", "a", 0, 10), span("x", "r", "b", 5, 0), span("y", "r", "b", 5, 0)},
			path:  []string{"r", "y", "x"},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			set := Assemble(c.spans, nil)
			if len(set.Traces) != 1 {
				t.Fatalf("%d traces", len(set.Traces))
			}
			tr := &set.Traces[0]
			if got := pathIDs(tr, tr.CriticalPath(tr.Root)); !slices.Equal(got, c.path) {
				t.Errorf("path %v, want %v", got, c.path)
			}
			var problems []Problem
			for _, w := range set.Warnings {
				problems = append(problems, w.Problem)
			}
			if !slices.Equal(problems, c.problems) {
				t.Errorf("problems %v, want %v (%v)", problems, c.problems, set.Warnings)
			}
			checkTree(t, tr)
		})
	}
}

// checkTree asserts what Assemble promises: one root, parents before children,
// synchronous children inside their parents.
func checkTree(t *testing.T, tr *Trace) {
	t.Helper()
	if tr.Root != 0 || tr.Parent[0] != -1 {
		t.Fatalf("root %d parent %d", tr.Root, tr.Parent[0])
	}
	for i := 1; i < len(tr.Spans); i++ {
		p := tr.Parent[i]
		if p < 0 || p >= i {
			t.Fatalf("span %d has parent %d", i, p)
		}
		s, ps := &tr.Spans[i], &tr.Spans[p]
		if !s.Async() && (s.StartUnixNano < ps.StartUnixNano || s.End() > ps.End()) {
			t.Fatalf("span %s [%d,%d] outside parent %s [%d,%d]", s.SpanID, s.StartUnixNano, s.End(), ps.SpanID, ps.StartUnixNano, ps.End())
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]struct {
		data, want string
	}{
		"empty":       {"", "empty document"},
		"text":        {"hello", "not a Jaeger, Zipkin v2 or OTLP"},
		"bad json":    {`{"data": [`, "invalid JSON"},
		"object":      {`{"kind": "CallGraph"}`, "none of data, spans, resourceSpans"},
		"numbers":     {`[1, 2]`, "got JSON number"},
		"zipkin v1":   {`[{"traceId": "a", "id": "b", "binaryAnnotations": []}]`, "zipkin v1 JSON is not supported"},
		"wrong types": {`{"data": [{"spans": [{"spanID": 12}]}]}`, "got JSON number"},
		"list":        {`[{"foo": 1}]`, "list of neither spans nor traces"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, _, err := Parse([]byte(c.data))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
	if _, _, err := ParseZipkin([]byte(`{"data": []}`)); err == nil || !strings.Contains(err.Error(), "want zipkin JSON, got jaeger") {
		t.Errorf("ParseZipkin on Jaeger: %v", err)
	}
	if _, err := ReadPath("testdata/none.json"); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := ReadPath(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no .json trace files") {
		t.Errorf("empty dir: %v", err)
	}
}

func TestParseLenient(t *testing.T) {
	cases := map[string]struct {
		data string
		want Span
	}{
		"otlp base64 ids, numeric times, enum name": {
			`{"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
			  "scopeSpans": [{"spans": [{"traceId": "S/kvNXezTaajzpKdDg5HNg==", "spanId": "AAAAAAAAAKE=", "parentSpanId": "",
			   "name": "op", "kind": "SPAN_KIND_SERVER", "startTimeUnixNano": 1700000000000000000, "endTimeUnixNano": "1700000000002000000",
			   "attributes": [{"key": "rpc.system", "value": {"stringValue": "grpc"}}, {"key": "rpc.response.size", "value": {"doubleValue": 12.5}}]}]}]}]}`,
			Span{TraceID: traceA, SpanID: "a1", Service: "svc", Operation: "op", Kind: KindServer, StartUnixNano: 1700000000000000000,
				Duration: 2 * time.Millisecond, Protocol: dataplane.GRPC, RequestBytes: Unknown, ResponseBytes: 12.5},
		},
		"tempo batches, old scope name": {
			`{"batches": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
			  "instrumentationLibrarySpans": [{"spans": [{"traceId": "0A", "spanId": "0B", "name": "op", "kind": 3,
			   "startTimeUnixNano": "1000", "endTimeUnixNano": "3000", "attributes": [{"key": "http.flavor", "value": {"stringValue": "2.0"}},
			   {"key": "http.request.method", "value": {"stringValue": "GET"}}, {"key": "peer.service", "value": {"stringValue": "db"}}]}]}]}]}`,
			Span{TraceID: "a", SpanID: "b", Service: "svc", Operation: "op", Kind: KindClient, StartUnixNano: 1000, Duration: 2000,
				Protocol: dataplane.HTTP2, RequestBytes: Unknown, ResponseBytes: Unknown, Peer: "db"},
		},
		"jaeger single trace, inline process, string times, parentSpanID": {
			`{"traceID": "1", "spans": [{"traceID": "1", "spanID": "2", "parentSpanID": "3", "operationName": "op", "startTime": "5", "duration": 2.0,
			  "process": {"serviceName": "svc"}, "tags": [{"key": "span.kind", "type": "string", "value": "client"},
			  {"key": "http.request_content_length", "type": "int64", "value": 10}, {"key": "error", "type": "bool", "value": true}]}]}`,
			Span{TraceID: "1", SpanID: "2", ParentID: "3", Service: "svc", Operation: "op", Kind: KindClient, StartUnixNano: 5000, Duration: 2000,
				Protocol: dataplane.HTTP, RequestBytes: 10, ResponseBytes: Unknown},
		},
		"jaeger list of traces, follows-from only, link to another trace ignored": {
			`[{"traceID": "1", "processes": {"p": {"serviceName": "svc"}}, "spans": [{"traceID": "1", "spanID": "2", "operationName": "op",
			  "references": [{"refType": "CHILD_OF", "traceID": "9", "spanID": "8"}, {"refType": "FOLLOWS_FROM", "traceID": "1", "spanID": "3"}],
			  "startTime": 5, "duration": 1, "processID": "p"}]}]`,
			Span{TraceID: "1", SpanID: "2", ParentID: "3", FollowsFrom: true, Service: "svc", Operation: "op", StartUnixNano: 5000, Duration: 1000,
				RequestBytes: Unknown, ResponseBytes: Unknown},
		},
		"zipkin api list of traces, no service": {
			`[[{"traceId": "1", "id": "2", "name": "op", "kind": "CLIENT", "timestamp": 5, "duration": 1, "remoteEndpoint": {"serviceName": "db"},
			  "tags": {"grpc.status_code": "0"}}]]`,
			Span{TraceID: "1", SpanID: "2", Service: "unknown", Operation: "op", Kind: KindClient, StartUnixNano: 5000, Duration: 1000,
				Protocol: dataplane.GRPC, RequestBytes: Unknown, ResponseBytes: Unknown, Peer: "db"},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, spans, warns, err := Parse([]byte(c.data))
			if err != nil {
				t.Fatal(err)
			}
			if len(spans) != 1 || spans[0] != c.want || len(warns) != 0 {
				t.Errorf("spans %+v\nwant  %+v\nwarnings %v", spans, c.want, warns)
			}
		})
	}
}

func TestZipkinSharedSpans(t *testing.T) {
	// The cart call of trace A is a B3 single-span RPC: client and server report
	// under id a2; the server's child (none here) would move with it.
	data := `[
	 {"traceId": "1", "id": "a", "name": "root", "timestamp": 1, "duration": 100, "localEndpoint": {"serviceName": "front"}},
	 {"traceId": "1", "id": "b", "parentId": "a", "kind": "CLIENT", "name": "call", "timestamp": 10, "duration": 50, "localEndpoint": {"serviceName": "front"}},
	 {"traceId": "1", "id": "b", "parentId": "a", "kind": "SERVER", "shared": true, "name": "serve", "timestamp": 12, "duration": 40, "localEndpoint": {"serviceName": "back"}},
	 {"traceId": "1", "id": "c", "parentId": "b", "name": "work", "timestamp": 15, "duration": 30, "localEndpoint": {"serviceName": "back"}}]`
	_, spans, _, err := Parse([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	set := Assemble(spans, nil)
	if len(set.Warnings) != 0 {
		t.Fatalf("warnings %v", set.Warnings)
	}
	tr := &set.Traces[0]
	if got := pathIDs(tr, tr.CriticalPath(tr.Root)); !slices.Equal(got, []string{"a", "b", "b:server", "c"}) {
		t.Errorf("path %v", got)
	}
}

// TestRelevantKeys keeps the Jaeger scanner's filter in step with tags.add: a
// key that add reads must not be dropped.
func TestRelevantKeys(t *testing.T) {
	keys := []string{"span.kind", "peer.service", "rpc.system", "component", "http.flavor", "http.protocol",
		"network.protocol.version", "net.protocol.version", "upstream.protocol", "network.protocol.name", "net.protocol.name",
		"request_size", "response_size", "messaging.message.body.size", "messaging.message_payload_size_bytes",
		"http.method", "http.request_content_length", "http.response.body.size", "grpc.status_code", "rpc.grpc.status_code",
		"rpc.request.size", "hostname", "db.system", "error", "otel.library.name", "ip"}
	for _, k := range keys {
		for _, v := range []string{"grpc", "http", "2", "client", "100"} {
			tg := newTags()
			tg.add(k, v)
			if tg != newTags() && !relevantKey([]byte(k)) {
				t.Errorf("add reads %q (=%s) but relevantKey drops it", k, v)
			}
		}
	}
}

// TestJaegerScannerMatchesEncodingJSON decodes the Jaeger fixtures' span lists
// both ways.
func TestJaegerScannerMatchesEncodingJSON(t *testing.T) {
	for _, file := range []string{"testdata/jaeger-checkout.json", "testdata/jaeger-broken.json"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Data []struct {
				Spans json.RawMessage `json:"spans"`
			} `json:"data"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		for _, tr := range doc.Data {
			var plain plainJaegerSpans
			if err := json.Unmarshal(tr.Spans, &plain); err != nil {
				t.Fatal(err)
			}
			scanned, ok := scanJaegerSpans(tr.Spans)
			if !ok || !reflect.DeepEqual(jaegerSpans(plain), scanned) {
				t.Errorf("%s: scanner (ok %v) and encoding/json disagree:\n%+v\n%+v", file, ok, scanned, plain)
			}
		}
	}
	if _, ok := scanJaegerSpans([]byte(`[{"spanID": "a\"b"}]`)); ok {
		t.Error("scanner read an escaped string")
	}
}

func TestWarningMessagesSummarise(t *testing.T) {
	var ws []Warning
	for i := range 7 {
		ws = append(ws, Warning{TraceID: string(rune('a' + i)), SpanID: "s", Problem: ClockSkew, Message: "moved"})
	}
	ws = append(ws, Warning{TraceID: "z", Problem: Cycle, Message: "cut"})
	ms := WarningMessages(ws)
	if len(ms) != 2 || !strings.Contains(ms[0].Message, "7 times in 7 traces") || ms[1].Subject != "trace z" {
		t.Errorf("messages %v", ms)
	}
}
