package traces

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// syntheticJaeger returns Jaeger JSON of n traces of 10 spans each: a root server
// span fanning out to three services in parallel (client and server spans), one
// sequential call after them, and an internal span, with the tags real
// instrumentation writes.
func syntheticJaeger(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	type tag struct {
		Key   string `json:"key"`
		Type  string `json:"type"`
		Value any    `json:"value"`
	}
	type ref struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	}
	type span struct {
		TraceID       string `json:"traceID"`
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		References    []ref  `json:"references"`
		StartTime     int64  `json:"startTime"`
		Duration      int64  `json:"duration"`
		Tags          []tag  `json:"tags"`
		ProcessID     string `json:"processID"`
	}
	type process struct {
		ServiceName string `json:"serviceName"`
		Tags        []tag  `json:"tags"`
	}
	type trace struct {
		TraceID   string             `json:"traceID"`
		Spans     []span             `json:"spans"`
		Processes map[string]process `json:"processes"`
	}
	services := []string{"frontend", "cart", "shipping", "currency", "payment"}
	procs := map[string]process{}
	for i, s := range services {
		procs[fmt.Sprintf("p%d", i)] = process{ServiceName: s, Tags: []tag{{"hostname", "string", s + "-5f7c9"}, {"ip", "string", "10.0.0.1"}}}
	}
	doc := struct {
		Data []trace `json:"data"`
	}{Data: make([]trace, n)}
	base := int64(1_700_000_000_000_000)
	for i := range doc.Data {
		tid := fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())
		t0 := base + int64(i)*1000
		id := 0
		mk := func(parent string, proc int, op, kind string, start, dur int64, extra ...tag) string {
			id++
			sid := fmt.Sprintf("%016x", uint64(i)<<8|uint64(id))
			s := span{TraceID: tid, SpanID: sid, OperationName: op, StartTime: t0 + start, Duration: dur, ProcessID: fmt.Sprintf("p%d", proc),
				References: []ref{},
				Tags:       append([]tag{{"span.kind", "string", kind}, {"otel.library.name", "string", "net/http"}}, extra...)}
			if parent != "" {
				s.References = append(s.References, ref{"CHILD_OF", tid, parent})
			}
			doc.Data[i].Spans = append(doc.Data[i].Spans, s)
			return sid
		}
		httpTags := func(method string, req, resp int) []tag {
			return []tag{{"http.method", "string", method}, {"http.status_code", "int64", 200}, {"http.url", "string", "http://svc:8080/api/v1/items"},
				{"http.request_content_length", "int64", req}, {"http.response_content_length", "int64", resp}}
		}
		total := 20_000 + rng.Int64N(60_000)
		root := mk("", 0, "GET /checkout", "server", 0, total, httpTags("GET", 0, 4096)...)
		end := int64(1000)
		for k := 1; k <= 3; k++ { // parallel fan-out
			d := 2000 + rng.Int64N(total/3)
			c := mk(root, 0, "call-"+services[k], "client", 1000, d, httpTags("POST", 200+k, 1000*k)...)
			mk(c, k, "serve", "server", 1100, d-200, httpTags("POST", 200+k, 1000*k)...)
			end = max(end, 1000+d)
		}
		d := max(total-end-2000, 1000)
		c := mk(root, 0, "charge", "client", end+500, d, tag{"rpc.system", "string", "grpc"}, tag{"rpc.service", "string", "Payment"})
		mk(c, 4, "Charge", "server", end+600, d-200, tag{"rpc.system", "string", "grpc"}, tag{"rpc.grpc.status_code", "int64", 0})
		mk(root, 0, "render", "internal", total-900, 800)
		doc.Data[i].Processes = procs
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err) // test helper: the document is built from plain structs
	}
	return b
}

// BenchmarkParseAndCriticalPath100k parses 100,000 spans (10,000 traces of 10
// spans, Jaeger JSON), assembles and repairs the traces, and computes and
// aggregates every critical path (target: under 2 s). It reports the peak heap in
// use, sampled while the data is live, as peak-heap-MiB.
func BenchmarkParseAndCriticalPath100k(b *testing.B) {
	data := syntheticJaeger(10_000, 1)
	b.SetBytes(int64(len(data)))
	b.ReportMetric(float64(len(data))/(1<<20), "input-MiB")
	runtime.GC()
	peak := uint64(0)
	b.ResetTimer()
	for b.Loop() {
		_, spans, warns, err := Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		set := Assemble(spans, warns)
		sum := Summarize(set, Filter{})
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
		if set.Spans != 100_000 || sum.Requests != 10_000 || len(set.Warnings) != 0 {
			b.Fatalf("%d spans, %d requests, %d warnings", set.Spans, sum.Requests, len(set.Warnings))
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

func TestSyntheticCriticalPath(t *testing.T) {
	set := Assemble(mustParse(t, syntheticJaeger(3, 7)), nil)
	if len(set.Traces) != 3 || len(set.Warnings) != 0 {
		t.Fatalf("%d traces, warnings %v", len(set.Traces), set.Warnings)
	}
	for _, tr := range set.Traces {
		// Root, the slowest fan-out client and its server, then the sequential
		// call (client and server) and the internal render span.
		path := tr.CriticalPath(tr.Root)
		if len(path) != 6 {
			t.Errorf("trace %s: path %v", tr.ID, pathIDs(&tr, path))
		}
		checkTree(t, &tr)
	}
}

func mustParse(t *testing.T, data []byte) []Span {
	t.Helper()
	_, spans, _, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return spans
}
