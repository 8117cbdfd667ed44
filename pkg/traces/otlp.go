package traces

import (
	"strconv"
	"time"
)

// otlpResourceSpans is OTLP/JSON's spans of one resource (process).
type otlpResourceSpans struct {
	Resource struct {
		Attributes []otlpKeyValue `json:"attributes"`
	} `json:"resource"`
	ScopeSpans []otlpScopeSpans `json:"scopeSpans"`
	// InstrumentationLibrarySpans is the name before OTLP 0.15.
	InstrumentationLibrarySpans []otlpScopeSpans `json:"instrumentationLibrarySpans"`
}

type otlpScopeSpans struct {
	Spans []otlpSpan `json:"spans"`
}

type otlpSpan struct {
	TraceID           string         `json:"traceId"`
	SpanID            string         `json:"spanId"`
	ParentSpanID      string         `json:"parentSpanId"`
	Name              string         `json:"name"`
	Kind              tagValue       `json:"kind"` // a number, or the enum's name
	StartTimeUnixNano flexInt        `json:"startTimeUnixNano"`
	EndTimeUnixNano   flexInt        `json:"endTimeUnixNano"`
	Attributes        []otlpKeyValue `json:"attributes"`
}

type otlpKeyValue struct {
	Key   string       `json:"key"`
	Value otlpAnyValue `json:"value"`
}

// otlpAnyValue holds the scalar kinds of OTLP's AnyValue; arrays and maps are
// of no use here and ignored.
type otlpAnyValue struct {
	StringValue *string   `json:"stringValue"`
	IntValue    *flexInt  `json:"intValue"`
	DoubleValue *tagValue `json:"doubleValue"`
	BoolValue   *bool     `json:"boolValue"`
}

func (v otlpAnyValue) text() string {
	switch {
	case v.StringValue != nil:
		return *v.StringValue
	case v.IntValue != nil:
		return strconv.FormatInt(v.IntValue.v, 10)
	case v.DoubleValue != nil:
		return string(*v.DoubleValue)
	case v.BoolValue != nil:
		return strconv.FormatBool(*v.BoolValue)
	}
	return ""
}

// spans converts the resource's spans, appending to out.
func (rs *otlpResourceSpans) spans(out *[]Span, warns *[]Warning) {
	service := ""
	for _, a := range rs.Resource.Attributes {
		if a.Key == "service.name" {
			service = a.Value.text()
		}
	}
	for _, ss := range append(rs.ScopeSpans, rs.InstrumentationLibrarySpans...) {
		for i := range ss.Spans {
			src := &ss.Spans[i]
			s := Span{
				TraceID:       normalizeID(src.TraceID),
				SpanID:        normalizeID(src.SpanID),
				ParentID:      normalizeID(src.ParentSpanID),
				Service:       service,
				Operation:     src.Name,
				Kind:          parseKind(string(src.Kind)),
				StartUnixNano: src.StartTimeUnixNano.v,
				Duration:      time.Duration(src.EndTimeUnixNano.v - src.StartTimeUnixNano.v),
			}
			if !src.EndTimeUnixNano.set && s.SpanID != "" && s.TraceID != "" {
				spanProblem(warns, s.TraceID, s.SpanID, "no end time (an unfinished span?); counted as 0")
				s.Duration = 0
			}
			t := newTags()
			for _, a := range src.Attributes {
				t.add(a.Key, a.Value.text())
			}
			t.kind = KindUnspecified // OTLP's kind field is authoritative
			t.apply(&s)
			if checkSpan(&s, warns) {
				*out = append(*out, s)
			}
		}
	}
}
