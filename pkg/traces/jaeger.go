package traces

import (
	"encoding/json"
	"strings"
	"time"
)

// jaegerTrace is one trace of Jaeger's JSON (the UI's export and the query API).
type jaegerTrace struct {
	TraceID   string                   `json:"traceID"`
	Spans     jaegerSpans              `json:"spans"`
	Processes map[string]jaegerProcess `json:"processes"`
}

type jaegerSpan struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	ParentSpanID  string      `json:"parentSpanID"` // older exports
	OperationName string      `json:"operationName"`
	References    []jaegerRef `json:"references"`
	// StartTime (Unix) and Duration are in µs.
	StartTime flexInt    `json:"startTime"`
	Duration  flexInt    `json:"duration"`
	Tags      jaegerTags `json:"tags"`
	ProcessID string     `json:"processID"`
	// Process is inlined by some tools instead of processID.
	Process *jaegerProcess `json:"process"`
}

type jaegerRef struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type jaegerTag struct {
	Key   string   `json:"key"`
	Value tagValue `json:"value"`
}

type jaegerProcess struct {
	ServiceName string     `json:"serviceName"`
	Tags        jaegerTags `json:"tags"`
}

// spans converts the trace's spans, appending to out.
func (jt *jaegerTrace) spans(out *[]Span, warns *[]Warning) {
	traceID := normalizeID(jt.TraceID)
	for i := range jt.Spans {
		js := &jt.Spans[i]
		s := Span{
			TraceID:       traceID,
			SpanID:        normalizeID(js.SpanID),
			Operation:     js.OperationName,
			StartUnixNano: js.StartTime.v * int64(time.Microsecond),
			Duration:      time.Duration(js.Duration.v) * time.Microsecond,
		}
		if tid := normalizeID(js.TraceID); tid != "" {
			s.TraceID = tid
		}
		if !js.StartTime.set {
			s.StartUnixNano = 0
		}
		if !js.Duration.set && js.StartTime.set && s.SpanID != "" && s.TraceID != "" {
			spanProblem(warns, s.TraceID, s.SpanID, "no duration; counted as 0")
		}
		// The parent: the first CHILD_OF reference within the trace, else the first
		// FOLLOWS_FROM one. References to other traces are links, not parents.
		followsFrom := ""
		for _, r := range js.References {
			if rt := normalizeID(r.TraceID); rt != "" && rt != s.TraceID {
				continue
			}
			switch {
			case strings.EqualFold(r.RefType, "CHILD_OF") && s.ParentID == "":
				s.ParentID = normalizeID(r.SpanID)
			case strings.EqualFold(r.RefType, "FOLLOWS_FROM") && followsFrom == "":
				followsFrom = normalizeID(r.SpanID)
			}
		}
		if s.ParentID == "" {
			if followsFrom != "" {
				s.ParentID, s.FollowsFrom = followsFrom, true
			} else {
				s.ParentID = normalizeID(js.ParentSpanID)
			}
		}
		proc := js.Process
		if proc == nil {
			if p, ok := jt.Processes[js.ProcessID]; ok {
				proc = &p
			}
		}
		t := newTags()
		if proc != nil {
			s.Service = proc.ServiceName
		}
		for _, tag := range js.Tags {
			t.add(tag.Key, string(tag.Value))
		}
		t.apply(&s)
		if checkSpan(&s, warns) {
			*out = append(*out, s)
		}
	}
}

// jaegerTags decodes Jaeger's tag lists, by far the most numerous objects in a
// Jaeger file, with a small scanner for the usual flat form
// [{"key": "k", "type": "t", "value": v}], and with encoding/json for anything
// else (escapes, nested values). encoding/json has already checked that b is
// valid JSON.
type jaegerTags []jaegerTag

// UnmarshalJSON implements json.Unmarshaler.
func (ts *jaegerTags) UnmarshalJSON(b []byte) error {
	if tags, ok := scanFlatTags(b, (*ts)[:0]); ok {
		if len(tags) == 0 {
			tags = nil // [] and null alike
		}
		*ts = tags
		return nil
	}
	var plain []jaegerTag
	if err := json.Unmarshal(b, &plain); err != nil {
		return err
	}
	*ts = plain
	return nil
}

// scanFlatTags appends the tags of a list of flat objects whose strings have no
// escapes, keeping only those the model reads; ok is false for anything else.
func scanFlatTags(b []byte, out []jaegerTag) (tags []jaegerTag, ok bool) {
	s := &scanner{b: b, ok: true}
	s.array(func() {
		var tag jaegerTag
		keep := true
		s.object(func(key []byte) {
			switch string(key) {
			case "key":
				k := s.str()
				// Most tags are of no use here, and each kept one costs two strings.
				if keep = relevantKey(k); keep {
					tag.Key = string(k)
				}
			case "value":
				switch c := s.peek(); {
				case c == '"':
					if v := s.str(); keep {
						tag.Value = tagValue(v)
					}
				case c == '{' || c == '[':
					s.fail()
				default:
					if v := s.literal(); keep && string(v) != "null" {
						tag.Value = tagValue(v)
					}
				}
			default:
				s.skipUnknown(key, "key", "value")
			}
		})
		if keep && s.ok {
			out = append(out, tag)
		}
	})
	s.ws()
	if !s.ok || s.i != len(b) {
		return nil, false
	}
	return out, true
}
