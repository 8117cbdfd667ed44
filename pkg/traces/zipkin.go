package traces

import (
	"sort"
	"time"
)

// zipkinSpan is one span of Zipkin's v2 JSON.
type zipkinSpan struct {
	TraceID  string `json:"traceId"`
	ID       string `json:"id"`
	ParentID string `json:"parentId"`
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	// Timestamp (Unix) and Duration are in µs.
	Timestamp      flexInt             `json:"timestamp"`
	Duration       flexInt             `json:"duration"`
	LocalEndpoint  *zipkinEndpoint     `json:"localEndpoint"`
	RemoteEndpoint *zipkinEndpoint     `json:"remoteEndpoint"`
	Tags           map[string]tagValue `json:"tags"`
	// Shared marks a server span that reuses its client's span id (B3 single-span
	// RPCs).
	Shared bool `json:"shared"`
}

type zipkinEndpoint struct {
	ServiceName string `json:"serviceName"`
}

// sharedSuffix makes the id of a server span that shares its client's id unique.
const sharedSuffix = ":server"

// zipkinSpans converts spans, appending to out. A server span that shares its id
// with the client span (Zipkin's shared spans) is given its own id and made the
// client's child, and the children of that id in the server's service are moved
// under it.
func zipkinSpans(zs []zipkinSpan, out *[]Span, warns *[]Warning) {
	start := len(*out)
	for i := range zs {
		z := &zs[i]
		s := Span{
			TraceID:       normalizeID(z.TraceID),
			SpanID:        normalizeID(z.ID),
			ParentID:      normalizeID(z.ParentID),
			Operation:     z.Name,
			Kind:          parseKind(z.Kind),
			StartUnixNano: z.Timestamp.v * int64(time.Microsecond),
			Duration:      time.Duration(z.Duration.v) * time.Microsecond,
		}
		if !z.Timestamp.set {
			s.StartUnixNano = 0
		}
		if z.LocalEndpoint != nil {
			s.Service = z.LocalEndpoint.ServiceName
		}
		t := newTags()
		// Sorted keys: tags are a map, and a later tag may override an earlier one.
		keys := make([]string, 0, len(z.Tags))
		for k := range z.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.add(k, string(z.Tags[k]))
		}
		t.kind = KindUnspecified // Zipkin's kind field is authoritative
		t.apply(&s)
		if s.Peer == "" && z.RemoteEndpoint != nil && s.Kind == KindClient {
			s.Peer = z.RemoteEndpoint.ServiceName
		}
		if !z.Duration.set && s.SpanID != "" && s.TraceID != "" {
			spanProblem(warns, s.TraceID, s.SpanID, "no duration (an unfinished span?); counted as 0")
		}
		if checkSpan(&s, warns) {
			*out = append(*out, s)
		}
	}
	splitShared(zs, (*out)[start:])
}

// splitShared gives shared server spans their own id. zs is only used for the
// shared flag, matched by trace and span id.
func splitShared(zs []zipkinSpan, spans []Span) {
	type key struct{ trace, span string }
	shared := map[key]bool{}
	for i := range zs {
		if zs[i].Shared {
			shared[key{normalizeID(zs[i].TraceID), normalizeID(zs[i].ID)}] = true
		}
	}
	clients := map[key]bool{}
	for i := range spans {
		if spans[i].Kind == KindClient {
			clients[key{spans[i].TraceID, spans[i].SpanID}] = true
		}
	}
	// A server span is shared when flagged so, or when a client span has its id.
	servers := map[key]string{} // id → the server's service
	for i := range spans {
		s := &spans[i]
		k := key{s.TraceID, s.SpanID}
		if s.Kind == KindServer && (shared[k] || clients[k]) {
			servers[k] = s.Service
			s.ParentID = s.SpanID
			s.SpanID += sharedSuffix
		}
	}
	if len(servers) == 0 {
		return
	}
	for i := range spans {
		s := &spans[i]
		if svc, ok := servers[key{s.TraceID, s.ParentID}]; ok && s.Service == svc && s.Kind != KindServer {
			s.ParentID += sharedSuffix
		}
	}
}
