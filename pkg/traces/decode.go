package traces

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/inputfile"
)

// Format is a trace file format.
type Format string

// The formats Parse recognises.
const (
	// Jaeger is the Jaeger UI export and query API JSON: {"data": [traces]}, one
	// trace object, or a list of them.
	Jaeger Format = "jaeger"
	// Zipkin is Zipkin v2 JSON: a list of spans, or a list of traces (lists of spans)
	// as /api/v2/traces returns.
	Zipkin Format = "zipkin"
	// OTLP is OpenTelemetry's OTLP/JSON: {"resourceSpans": [...]} (or Tempo's
	// {"batches": [...]}).
	OTLP Format = "otlp"
)

// maxFileBytes bounds what ReadPath reads from one file, so that a wrong path
// fails fast instead of exhausting memory.
const maxFileBytes = 1 << 30

// ErrUnknownFormat is returned (wrapped) for JSON that is none of the formats.
var ErrUnknownFormat = errors.New("not a Jaeger, Zipkin v2 or OTLP JSON trace file")

// Parse detects the format of data and decodes its spans. Spans that cannot be
// used are skipped with a warning; only a document that is not valid JSON of a
// known format is an error.
func Parse(data []byte) (Format, []Span, []Warning, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return "", nil, nil, fmt.Errorf("empty document: %w", ErrUnknownFormat)
	}
	var spans []Span
	var warns []Warning
	var format Format
	var err error
	switch trimmed[0] {
	case '{':
		if json.Valid(trimmed) {
			// About one span per 512 bytes of Jaeger JSON: one allocation instead of
			// a dozen doublings of a large slice.
			spans = make([]Span, 0, len(trimmed)/512)
			if scanJaegerDoc(trimmed, func(t *jaegerTrace) { t.spans(&spans, &warns) }) {
				return Jaeger, spans, warns, nil
			}
			spans, warns = spans[:0], nil
		}
		format, err = parseObject(trimmed, &spans, &warns)
	case '[':
		format, err = parseArray(trimmed, &spans, &warns)
	default:
		return "", nil, nil, fmt.Errorf("document starts with %q: %w", trimmed[0], ErrUnknownFormat)
	}
	if err != nil {
		return "", nil, nil, err
	}
	return format, spans, warns, nil
}

// parseObject decodes the object formats in one streaming pass over the
// top-level keys: the traces under "data" (Jaeger) or "resourceSpans" (OTLP) are
// decoded and converted one at a time, so that only one trace's JSON structures
// are alive at once.
func parseObject(data []byte, spans *[]Span, warns *[]Warning) (Format, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // the opening brace
		return "", jsonError(err)
	}
	var format Format
	var single jaegerTrace // a bare Jaeger trace: {"traceID", "spans", "processes"}
	isSingle := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", jsonError(err)
		}
		key, _ := tok.(string)
		switch {
		case strings.EqualFold(key, "data"):
			format = cmp.Or(format, Jaeger)
			err = eachSpans[jaegerTrace](dec, spans, warns)
		case strings.EqualFold(key, "resourceSpans") || strings.EqualFold(key, "batches"):
			format = cmp.Or(format, OTLP)
			err = eachSpans[otlpResourceSpans](dec, spans, warns)
		case strings.EqualFold(key, "errors"):
			format = cmp.Or(format, Jaeger)
			var skip json.RawMessage
			err = dec.Decode(&skip)
		case strings.EqualFold(key, "spans"):
			isSingle = true
			err = dec.Decode(&single.Spans)
		case strings.EqualFold(key, "processes"):
			isSingle = true
			err = dec.Decode(&single.Processes)
		case strings.EqualFold(key, "traceID"):
			err = dec.Decode(&single.TraceID)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return "", jsonError(err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return "", jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", errors.New("invalid JSON: data after the top-level object")
	}
	if isSingle && format == "" {
		single.spans(spans, warns)
		format = Jaeger
	}
	if format == "" {
		return "", fmt.Errorf("object has none of data, spans, resourceSpans: %w", ErrUnknownFormat)
	}
	return format, nil
}

// eachSpans decodes every element of the array that dec is at as a T (a
// Jaeger trace or OTLP resource spans) and adds its spans and warnings.
func eachSpans[T any, P interface {
	*T
	spans(out *[]Span, warns *[]Warning)
}](dec *json.Decoder, spans *[]Span, warns *[]Warning) error {
	return eachElement(dec, func() error {
		var v T
		if err := dec.Decode(&v); err != nil {
			return err
		}
		P(&v).spans(spans, warns)
		return nil
	})
}

// eachElement calls decode for every element of the array that dec is at; null
// counts as empty.
func eachElement(dec *json.Decoder, decode func() error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("got %v, want a list: %w", tok, ErrUnknownFormat)
	}
	for dec.More() {
		if err := decode(); err != nil {
			return err
		}
	}
	_, err = dec.Token() // the closing bracket
	return err
}

// probe tells the array formats apart by their first element.
type probe struct {
	Spans             json.RawMessage `json:"spans"`
	Processes         json.RawMessage `json:"processes"`
	ID                json.RawMessage `json:"id"`
	BinaryAnnotations json.RawMessage `json:"binaryAnnotations"`
}

func parseArray(data []byte, spans *[]Span, warns *[]Warning) (Format, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil {
		return "", jsonError(err)
	}
	if len(items) == 0 {
		return Zipkin, nil // an empty span list
	}
	first := bytes.TrimSpace(items[0])
	if len(first) > 0 && first[0] == '[' {
		// Zipkin's /api/v2/traces: a list of traces, each a list of spans.
		var traces [][]zipkinSpan
		if err := json.Unmarshal(data, &traces); err != nil {
			return "", jsonError(err)
		}
		for _, t := range traces {
			zipkinSpans(t, spans, warns)
		}
		return Zipkin, nil
	}
	var p probe
	if err := json.Unmarshal(first, &p); err != nil {
		return "", jsonError(err)
	}
	switch {
	case p.Spans != nil || p.Processes != nil:
		var traces []jaegerTrace
		if err := json.Unmarshal(data, &traces); err != nil {
			return "", jsonError(err)
		}
		for i := range traces {
			traces[i].spans(spans, warns)
		}
		return Jaeger, nil
	case p.BinaryAnnotations != nil:
		return "", errors.New("zipkin v1 JSON is not supported: export Zipkin v2 (/api/v2/traces) instead")
	case p.ID != nil:
		var zs []zipkinSpan
		if err := json.Unmarshal(data, &zs); err != nil {
			return "", jsonError(err)
		}
		zipkinSpans(zs, spans, warns)
		return Zipkin, nil
	}
	return "", fmt.Errorf("list of neither spans nor traces: %w", ErrUnknownFormat)
}

// jsonError makes encoding/json's errors say where the problem is.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: unexpected end of input (a truncated file?)")
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, err)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "document"
		}
		return fmt.Errorf("%s at byte %d: got JSON %s, want %s: %w", field, te.Offset, te.Value, te.Type, ErrUnknownFormat)
	}
	return fmt.Errorf("decoding traces: %w", err)
}

// ReadPath reads a trace file, or every .json file under a directory, and
// assembles the traces. Spans of one trace spread over several files are joined.
func ReadPath(path string) (*Set, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading traces: %w", err)
	}
	files := []string{path}
	if info.IsDir() {
		files = nil
		err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".json") && inputfile.Regular(p, d) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading traces: %w", err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("no .json trace files in %q", path)
		}
	}
	var spans []Span
	var warns []Warning
	for _, f := range files {
		data, err := readLimited(f)
		if err != nil {
			return nil, err
		}
		_, s, w, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		spans, warns = append(spans, s...), append(warns, w...)
	}
	return Assemble(spans, warns), nil
}

func readLimited(path string) ([]byte, error) {
	return inputfile.ReadFile(path, "trace file", maxFileBytes)
}

// normalizeID makes ids comparable across exporters: lower-case hex without
// leading zeros. OTLP ids written as base64 (some protobuf JSON encoders do) are
// converted to hex. An id of only zeros is no id.
func normalizeID(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if !isHex(s) {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil && (len(b) == 8 || len(b) == 16) {
			s = hex.EncodeToString(b)
		} else {
			return s // not an id we can compare beyond its spelling
		}
	}
	s = strings.TrimLeft(s, "0")
	if hasUpper(s) {
		s = strings.ToLower(s)
	}
	return s
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// flexInt is a JSON integer that may be written as a string (proto3 JSON writes
// 64-bit integers so) or with a fraction or exponent. set says it was present.
type flexInt struct {
	v   int64
	set bool
}

// UnmarshalJSON accepts 12, "12", 12.0 and 1.2e1. Anything else (null, a word,
// an object) leaves the value unset rather than failing the whole document: the
// span it belongs to is then reported and skipped.
func (f *flexInt) UnmarshalJSON(b []byte) error {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	if v, ok := parseIntBytes(b); ok {
		f.v, f.set = v, true
		return nil
	}
	s := string(b)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		f.v, f.set = v, true
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.Abs(v) >= math.MaxInt64 {
		return nil
	}
	f.v, f.set = int64(v), true
	return nil
}

// tagValue is a tag's value as text, whatever JSON type it was written as.
type tagValue string

// UnmarshalJSON keeps strings as they are and other scalars as their JSON text.
func (t *tagValue) UnmarshalJSON(b []byte) error {
	if len(b) >= 2 && b[0] == '"' {
		if bytes.IndexByte(b, '\\') < 0 {
			*t = tagValue(b[1 : len(b)-1])
			return nil
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = tagValue(s)
		return nil
	}
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') || string(b) == "null" {
		*t = ""
		return nil
	}
	*t = tagValue(b)
	return nil
}

// tags collects what the overhead model needs from a span's tags or attributes.
type tags struct {
	kind      Kind
	http      bool
	http2     bool
	grpc      bool
	req, resp float64
	peer      string
}

func newTags() tags { return tags{req: Unknown, resp: Unknown} }

// exactKeys are the tags add reads by full name; it also reads every key with
// one of keyPrefixes.
var exactKeys = map[string]bool{
	"span.kind": true, "peer.service": true, "rpc.system": true, "component": true,
	"http.flavor": true, "http.protocol": true, "network.protocol.version": true, "net.protocol.version": true,
	"upstream.protocol": true, "network.protocol.name": true, "net.protocol.name": true,
	"request_size": true, "response_size": true, "messaging.message.body.size": true, "messaging.message_payload_size_bytes": true,
}

var keyPrefixes = [][]byte{[]byte("http."), []byte("grpc."), []byte("rpc.")}

// relevantKey reports whether add reads tag key.
func relevantKey(key []byte) bool {
	if exactKeys[string(key)] {
		return true
	}
	for _, p := range keyPrefixes {
		if bytes.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// add interprets one tag; keys it reads must pass relevantKey. Keys follow OpenTracing, OpenTelemetry (old and new
// semantic conventions), Zipkin and Envoy.
func (t *tags) add(key, value string) {
	switch key {
	case "span.kind":
		t.kind = parseKind(value)
		return
	case "peer.service":
		t.peer = value
		return
	case "rpc.system":
		if strings.EqualFold(value, "grpc") {
			t.grpc = true
		}
		return
	case "component":
		if strings.EqualFold(value, "grpc") {
			t.grpc = true
		}
		return
	case "http.flavor", "http.protocol", "network.protocol.version", "net.protocol.version", "upstream.protocol":
		if strings.Contains(value, "2") && !strings.Contains(value, "1.") {
			t.http2 = true
		}
		return
	case "network.protocol.name", "net.protocol.name":
		if strings.EqualFold(value, "http") {
			t.http = true
		}
		return
	case "request_size", "messaging.message.body.size", "messaging.message_payload_size_bytes":
		t.req = size(value, t.req)
		return
	case "response_size":
		t.resp = size(value, t.resp)
		return
	}
	switch {
	case strings.HasPrefix(key, "http."):
		t.http = true
		switch key {
		case "http.request_content_length", "http.request_content_length_uncompressed", "http.request.body.size", "http.request.size":
			t.req = size(value, t.req)
		case "http.response_content_length", "http.response_content_length_uncompressed", "http.response.body.size", "http.response.size":
			t.resp = size(value, t.resp)
		}
	case strings.HasPrefix(key, "grpc.") || strings.HasPrefix(key, "rpc.grpc."):
		t.grpc = true
	case strings.HasPrefix(key, "rpc.") && strings.HasSuffix(key, "size"):
		switch {
		case strings.Contains(key, "request"):
			t.req = size(value, t.req)
		case strings.Contains(key, "response"):
			t.resp = size(value, t.resp)
		}
	}
}

// size parses a byte count; anything that is not a finite, non-negative number
// keeps the previous value.
func size(s string, prev float64) float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return prev
	}
	return v
}

func (t *tags) protocol() dataplane.Protocol {
	switch {
	case t.grpc:
		return dataplane.GRPC
	case t.http && t.http2:
		return dataplane.HTTP2
	case t.http:
		return dataplane.HTTP
	}
	return ""
}

// apply copies the tags into s.
func (t *tags) apply(s *Span) {
	if t.kind != KindUnspecified {
		s.Kind = t.kind
	}
	s.Protocol = t.protocol()
	s.RequestBytes, s.ResponseBytes = t.req, t.resp
	if t.peer != "" {
		s.Peer = t.peer
	}
}

// parseKind reads a kind written as "client", "CLIENT", "SPAN_KIND_CLIENT" or
// OTLP's number (as text).
func parseKind(s string) Kind {
	s = strings.ToLower(strings.TrimPrefix(strings.ToUpper(s), "SPAN_KIND_"))
	switch s {
	case "internal", "1":
		return KindInternal
	case "server", "2":
		return KindServer
	case "client", "3":
		return KindClient
	case "producer", "4":
		return KindProducer
	case "consumer", "5":
		return KindConsumer
	}
	return KindUnspecified
}

// spanProblem records a span that was skipped or changed while decoding.
func spanProblem(warns *[]Warning, traceID, spanID, format string, args ...any) {
	*warns = append(*warns, Warning{TraceID: traceID, SpanID: spanID, Problem: BadSpan, Message: fmt.Sprintf(format, args...)})
}

// checkSpan validates the decoded span; false means skip it.
func checkSpan(s *Span, warns *[]Warning) bool {
	switch {
	case s.TraceID == "":
		spanProblem(warns, "-", s.SpanID, "no trace id; skipped")
		return false
	case s.SpanID == "":
		spanProblem(warns, s.TraceID, "", "span %q of %s has no span id; skipped", s.Operation, s.Service)
		return false
	case s.StartUnixNano <= 0:
		spanProblem(warns, s.TraceID, s.SpanID, "no start time; skipped")
		return false
	case s.Duration < 0:
		spanProblem(warns, s.TraceID, s.SpanID, "negative duration %s; counted as 0", s.Duration)
		s.Duration = 0
	}
	if s.Service == "" {
		s.Service = "unknown"
	}
	return true
}

// ParseJaeger decodes Jaeger JSON; other formats are an error.
func ParseJaeger(data []byte) ([]Span, []Warning, error) { return parseAs(Jaeger, data) }

// ParseZipkin decodes Zipkin v2 JSON; other formats are an error.
func ParseZipkin(data []byte) ([]Span, []Warning, error) { return parseAs(Zipkin, data) }

// ParseOTLP decodes OTLP/JSON; other formats are an error.
func ParseOTLP(data []byte) ([]Span, []Warning, error) { return parseAs(OTLP, data) }

func parseAs(want Format, data []byte) ([]Span, []Warning, error) {
	got, spans, warns, err := Parse(data)
	if err != nil {
		return nil, nil, err
	}
	if got != want {
		return nil, nil, fmt.Errorf("want %s JSON, got %s JSON", want, got)
	}
	return spans, warns, nil
}
