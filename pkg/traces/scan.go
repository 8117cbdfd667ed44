package traces

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Jaeger files are mostly span objects. Decoding them with encoding/json (which
// scans each value twice, then reflects) took three quarters of the time to read
// a large file, so the usual form, {"data": [traces]}, is read by the small
// scanner below in one pass after json.Valid; anything it does not expect
// (escaped strings, an unusual type, a key in another case) makes it give up, and
// encoding/json decodes the document instead. Two fuzz targets check that both
// ways give the same spans. The scanner checks every bound, so bad input can only
// make it give up.

// scanner walks a JSON value. ok turns false at the first thing it does not
// handle, after which every method is a no-op.
type scanner struct {
	b  []byte
	i  int
	ok bool
	// arena holds the tags of the trace being read, and spans its spans, so that
	// reading one trace after another reuses their memory (scanJaegerDoc).
	arena []jaegerTag
	spans jaegerSpans
}

func (s *scanner) fail() { s.ok = false }

func (s *scanner) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\n' || s.b[s.i] == '\t' || s.b[s.i] == '\r') {
		s.i++
	}
}

// peek returns the next non-blank byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if !s.ok || s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

func (s *scanner) expect(c byte) {
	if s.peek() != c {
		s.fail()
		return
	}
	s.i++
}

// str reads a string without escapes or invalid UTF-8 (with either, the
// scanner gives up: encoding/json turns invalid bytes into U+FFFD).
func (s *scanner) str() []byte {
	if s.peek() != '"' {
		s.fail()
		return nil
	}
	ascii := true
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '\\':
			s.fail()
			return nil
		case c == '"':
			v := s.b[s.i+1 : j]
			if !ascii && !utf8.Valid(v) {
				s.fail()
				return nil
			}
			s.i = j + 1
			return v
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	s.fail()
	return nil
}

// literal reads a number, true, false or null.
func (s *scanner) literal() []byte {
	s.ws()
	j := s.i
	for j < len(s.b) {
		c := s.b[j]
		if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\t' || c == '\r' {
			break
		}
		if c == '{' || c == '[' || c == '"' || c == ':' {
			s.fail()
			return nil
		}
		j++
	}
	if j == s.i {
		s.fail()
		return nil
	}
	v := s.b[s.i:j]
	s.i = j
	return v
}

// skip passes over any value, strings with escapes included.
func (s *scanner) skip() {
	depth := 0
	for s.ok {
		switch c := s.peek(); c {
		case 0:
			s.fail()
			return
		case '{', '[':
			depth++
			s.i++
		case '}', ']':
			depth--
			s.i++
		case ',', ':':
			if depth == 0 {
				return
			}
			s.i++
		case '"':
			j := s.i + 1
			for j < len(s.b) && s.b[j] != '"' {
				if s.b[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s.b) {
				s.fail()
				return
			}
			s.i = j + 1
		default:
			s.literal()
		}
		if depth == 0 {
			return
		}
		if depth < 0 {
			s.fail()
			return
		}
	}
}

// object calls field for each key, with the scanner at its value; field must
// consume the value.
func (s *scanner) object(field func(key []byte)) {
	s.expect('{')
	if s.peek() == '}' {
		s.i++
		return
	}
	for s.ok {
		key := s.str()
		s.expect(':')
		if !s.ok {
			return
		}
		field(key)
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return
		default:
			s.fail()
		}
	}
}

// array calls elem for each element; elem must consume it. null is empty.
func (s *scanner) array(elem func()) {
	if s.peek() == 'n' {
		s.literal()
		return
	}
	s.expect('[')
	if s.peek() == ']' {
		s.i++
		return
	}
	for s.ok {
		elem()
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return
		default:
			s.fail()
		}
	}
}

// text reads a string or, for null, nothing.
func (s *scanner) text() string {
	if s.peek() == 'n' {
		s.literal()
		return ""
	}
	return string(s.str())
}

// integer reads what flexInt accepts.
func (s *scanner) integer() flexInt {
	var raw []byte
	if s.peek() == '"' {
		raw = s.str()
	} else {
		raw = s.literal()
	}
	var f flexInt
	if s.ok {
		_ = f.UnmarshalJSON(raw) // never fails: what is not a number stays unset
	}
	return f
}

// tags reads a tag list with scanFlatTags.
func (s *scanner) tags() jaegerTags {
	start := s.peek()
	from := s.i
	s.skip()
	if !s.ok || (start != '[' && start != 'n') {
		s.fail()
		return nil
	}
	first := len(s.arena)
	arena, ok := scanFlatTags(s.b[from:s.i], s.arena)
	if !ok {
		s.fail()
		return nil
	}
	s.arena = arena
	if len(arena) == first {
		return nil // [] and null alike, as scanFlatTags returns for both
	}
	return arena[first:len(arena):len(arena)]
}

// spanKeys are the span fields the scanner reads.
var spanKeys = []string{"traceID", "spanID", "parentSpanID", "operationName", "processID", "startTime", "duration", "tags", "references", "process"}

// skipUnknown passes over the value of a field the scanner does not read. A key
// that differs from a known one only in case is one that encoding/json would
// read (it matches keys case-insensitively): the scanner gives up on it.
func (s *scanner) skipUnknown(key []byte, known ...string) {
	for _, k := range known {
		if strings.EqualFold(string(key), k) {
			s.fail()
			return
		}
	}
	s.skip()
}

// jaegerSpans is a list of Jaeger spans, read by the scanner when it can.
type jaegerSpans []jaegerSpan

// plainJaegerSpans has no UnmarshalJSON method: encoding/json decodes it.
type plainJaegerSpans []jaegerSpan

// UnmarshalJSON implements json.Unmarshaler.
func (js *jaegerSpans) UnmarshalJSON(b []byte) error {
	if spans, ok := scanJaegerSpans(b); ok {
		*js = spans
		return nil
	}
	var plain plainJaegerSpans
	if err := json.Unmarshal(b, &plain); err != nil {
		return err
	}
	*js = jaegerSpans(plain)
	return nil
}

func scanJaegerSpans(b []byte) (jaegerSpans, bool) {
	s := &scanner{b: b, ok: true}
	spans := s.jaegerSpans()
	s.ws()
	if !s.ok || s.i != len(b) {
		return nil, false
	}
	return spans, true
}

// scanJaegerDoc reads a Jaeger query API answer or UI export, {"data": [traces]},
// in one pass, handing each trace to each as soon as it is read; the trace's
// memory is reused for the next one. ok is false for anything else or anything
// unusual, which encoding/json then decodes (each may have been called for the
// traces before). b must be valid JSON (json.Valid).
func scanJaegerDoc(b []byte, each func(*jaegerTrace)) (ok bool) {
	s := &scanner{b: b, ok: true}
	sawData := false
	s.object(func(key []byte) {
		switch string(key) {
		case "data":
			sawData = true
			s.array(func() {
				s.arena, s.spans = s.arena[:0], s.spans[:0]
				t := s.jaegerTrace()
				if s.ok {
					each(&t)
				}
			})
		default:
			s.skipUnknown(key, "data", "resourceSpans", "batches", "spans", "processes", "traceID", "errors")
		}
	})
	s.ws()
	return s.ok && s.i == len(b) && sawData
}

func (s *scanner) jaegerTrace() jaegerTrace {
	var t jaegerTrace
	s.object(func(key []byte) {
		switch string(key) {
		case "traceID":
			t.TraceID = s.text()
		case "spans":
			t.Spans = s.jaegerSpans()
			s.spans = t.Spans
		case "processes":
			if s.peek() == 'n' {
				s.literal()
				t.Processes = nil
				return
			}
			if t.Processes == nil {
				t.Processes = map[string]jaegerProcess{}
			}
			s.object(func(id []byte) {
				if s.peek() == 'n' { // encoding/json leaves the zero process
					s.literal()
					t.Processes[string(id)] = jaegerProcess{}
					return
				}
				t.Processes[string(id)] = s.jaegerProcess()
			})
		default:
			s.skipUnknown(key, "traceID", "spans", "processes")
		}
	})
	return t
}

func (s *scanner) jaegerProcess() jaegerProcess {
	var p jaegerProcess
	s.object(func(key []byte) {
		switch string(key) {
		case "serviceName":
			p.ServiceName = s.text()
		case "tags":
			p.Tags = s.tags()
		default:
			s.skipUnknown(key, "serviceName", "tags")
		}
	})
	return p
}

func (s *scanner) jaegerSpans() jaegerSpans {
	if s.peek() == 'n' {
		s.literal()
		return nil
	}
	out := s.spans[:0]
	if out == nil {
		out = jaegerSpans{}
	}
	s.array(func() {
		var sp jaegerSpan
		s.object(func(key []byte) {
			switch string(key) {
			case "traceID":
				sp.TraceID = s.text()
			case "spanID":
				sp.SpanID = s.text()
			case "parentSpanID":
				sp.ParentSpanID = s.text()
			case "operationName":
				sp.OperationName = s.text()
			case "processID":
				sp.ProcessID = s.text()
			case "startTime":
				sp.StartTime = s.integer()
			case "duration":
				sp.Duration = s.integer()
			case "tags":
				sp.Tags = s.tags()
			case "references":
				if s.peek() == 'n' {
					s.literal()
					sp.References = nil
					return
				}
				sp.References = []jaegerRef{} // as encoding/json leaves []
				s.array(func() {
					var r jaegerRef
					s.object(func(key []byte) {
						switch string(key) {
						case "refType":
							r.RefType = s.text()
						case "traceID":
							r.TraceID = s.text()
						case "spanID":
							r.SpanID = s.text()
						default:
							s.skipUnknown(key, "refType", "traceID", "spanID")
						}
					})
					sp.References = append(sp.References, r)
				})
			case "process":
				if s.peek() == 'n' {
					s.literal()
					sp.Process = nil
					return
				}
				p := s.jaegerProcess()
				sp.Process = &p
			default:
				s.skipUnknown(key, spanKeys...)
			}
		})
		out = append(out, sp)
	})
	return out
}

// parseIntBytes is strconv.ParseInt for the common case of plain digits, without
// converting to a string; ok is false for anything else.
func parseIntBytes(b []byte) (v int64, ok bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 18 { // 18 digits cannot overflow int64
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}
