package traces

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// fuzzParser runs parse on arbitrary input and checks that whatever it returns
// assembles into valid trees whose critical paths and summary can be computed.
func fuzzParser(f *testing.F, parse func([]byte) ([]Span, []Warning, error), seeds ...string) {
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		} else {
			f.Add([]byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		spans, warns, err := parse(data)
		if err != nil {
			return
		}
		set := Assemble(spans, warns)
		for i := range set.Traces {
			tr := &set.Traces[i]
			checkTree(t, tr)
			path := tr.CriticalPath(tr.Root)
			if len(path) == 0 || path[0] != tr.Root {
				t.Fatalf("trace %s: path %v does not start at the root", tr.ID, path)
			}
			seen := map[int]bool{}
			for _, s := range path {
				if seen[s] {
					t.Fatalf("trace %s: span %d twice on the path %v", tr.ID, s, path)
				}
				seen[s] = true
			}
		}
		sum := Summarize(set, Filter{})
		if sum.Requests != len(set.Traces) {
			t.Fatalf("%d requests for %d traces", sum.Requests, len(set.Traces))
		}
		for _, op := range sum.Operations {
			if op.P50 > op.P99 {
				t.Fatalf("%s: p50 %s > p99 %s", op.Operation, op.P50, op.P99)
			}
		}
	})
}

func FuzzParseJaeger(f *testing.F) {
	fuzzParser(f, ParseJaeger, "testdata/jaeger-checkout.json", "testdata/jaeger-broken.json",
		`{"data":[{"traceID":"1","spans":[{"traceID":"1","spanID":"2","references":[{"refType":"CHILD_OF","spanID":"2"}],"startTime":1,"duration":1,"tags":[{"key":"http.x","value":1}]}]}]}`,
		`[{"traceID":"1","spans":[{"spanID":"2","parentSpanID":"3","startTime":"5","duration":-1,"process":{"serviceName":"a"}}]}]`)
}

func FuzzParseZipkin(f *testing.F) {
	fuzzParser(f, ParseZipkin, "testdata/zipkin-checkout.json",
		`[[{"traceId":"1","id":"2","parentId":"2","kind":"SERVER","shared":true,"timestamp":1,"duration":5,"tags":{"rpc.system":"grpc"}}]]`)
}

func FuzzParseOTLP(f *testing.F) {
	fuzzParser(f, ParseOTLP, "testdata/otlp-checkout.json",
		`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},"scopeSpans":[{"spans":[{"traceId":"AQ==","spanId":"Ag==","parentSpanId":"03","kind":5,"startTimeUnixNano":"9","endTimeUnixNano":3}]}]}]}`)
}

// FuzzJaegerSpanScanner checks that the scanner reads span lists exactly as
// encoding/json does whenever it does not give up.
func FuzzJaegerSpanScanner(f *testing.F) {
	f.Add([]byte(`[{"traceID":"1","spanID":"2","operationName":"op","references":[{"refType":"CHILD_OF","traceID":"1","spanID":"3"}],"startTime":5,"duration":"7","tags":[{"key":"http.method","type":"string","value":"GET"},{"key":"x","value":1}],"processID":"p1","logs":[{"timestamp":1,"fields":[]}],"warnings":null}]`))
	f.Add([]byte(`[{"spanID":"2","process":{"serviceName":"a","tags":null},"SpanId":"3"}]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var plain plainJaegerSpans
		if json.Unmarshal(data, &plain) != nil {
			return
		}
		scanned, ok := scanJaegerSpans(data)
		if !ok {
			return
		}
		if !reflect.DeepEqual(jaegerSpans(plain), scanned) && !(len(plain) == 0 && len(scanned) == 0) {
			t.Fatalf("scanner and encoding/json disagree on %s:\n%+v\n%+v", data, scanned, plain)
		}
	})
}

// FuzzJaegerDocScanner checks that the one-pass reading of {"data": [...]} gives
// the same spans and warnings as the encoding/json path whenever it is taken.
func FuzzJaegerDocScanner(f *testing.F) {
	for _, file := range []string{"testdata/jaeger-checkout.json", "testdata/jaeger-broken.json"} {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"data":[{"traceID":"1","processes":{"p":{"serviceName":"a"},"q":null},"spans":[{"spanID":"2","processID":"p","startTime":1}]}],"total":0}`))
	f.Add([]byte(`{"data":null,"Data":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		var fast, slow []Span
		var fastW, slowW []Warning
		if !scanJaegerDoc(data, func(t *jaegerTrace) { t.spans(&fast, &fastW) }) {
			return
		}
		format, err := parseObject(data, &slow, &slowW)
		if err != nil || format != Jaeger {
			t.Fatalf("scanner read %s, encoding/json says %s, %v", data, format, err)
		}
		if !reflect.DeepEqual(fast, slow) || !reflect.DeepEqual(fastW, slowW) {
			t.Fatalf("scanner and encoding/json disagree on %s:\n%+v %v\n%+v %v", data, fast, fastW, slow, slowW)
		}
	})
}
