package callgraph

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
)

// Problem is one thing wrong with a graph, located by its field path
// (e.g. "edges[2].protocol") and, when the graph came from a file, by line and column.
type Problem struct {
	Line, Column int
	Path         string
	Message      string
}

// String renders the problem after its line and column (when known) and field path.
func (p Problem) String() string {
	loc := ""
	if p.Line > 0 {
		loc = fmt.Sprintf("%d:%d: ", p.Line, p.Column)
	}
	if p.Path == "" {
		return loc + p.Message
	}
	return loc + p.Path + ": " + p.Message
}

// ErrInvalid is wrapped by every ValidationError, for errors.Is.
var ErrInvalid = errors.New("invalid call graph")

// ValidationError lists every problem found in a graph.
type ValidationError struct {
	// File is the file the graph came from, if any.
	File     string
	Problems []Problem
}

// Error lists every problem, one per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		if e.File != "" {
			lines[i] = e.File + ":" + p.String()
		} else {
			lines[i] = p.String()
		}
	}
	head := "invalid call graph"
	if e.File != "" {
		head = fmt.Sprintf("invalid call graph %q", e.File)
	}
	return head + ":\n  " + strings.Join(lines, "\n  ")
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// The ranges a graph's numbers must lie in. No mesh comes near them, and
// beyond them the model's products (rate × size × cost per KiB × tries)
// could overflow into infinite or meaningless figures.
const (
	// MaxRequestsPerSecond bounds every rate: requests, connections.
	MaxRequestsPerSecond = 1e9
	// MaxMessageBytes bounds a mean request or response size (1 GiB).
	MaxMessageBytes = 1 << 30
	// MaxBytesPerSecond bounds a tcp edge's throughput (1 PB/s).
	MaxBytesPerSecond = 1e15
	// MaxReplicas bounds a workload's pods.
	MaxReplicas = 1_000_000
	// MaxProxyConcurrency bounds a proxy's worker threads.
	MaxProxyConcurrency = 1 << 16
	// MaxProxyCPULimitMillicores bounds a proxy's CPU limit (a million cores).
	MaxProxyCPULimitMillicores = 1_000_000_000
)

// refIndex resolves edge references: "namespace/name", or a bare name that is
// unique across namespaces.
type refIndex struct {
	byID   map[string]int
	byName map[string][]int
}

func newRefIndex(ws []Workload) refIndex {
	r := refIndex{byID: make(map[string]int, len(ws)), byName: make(map[string][]int, len(ws))}
	for i, w := range ws {
		ns := w.Namespace
		if ns == "" {
			ns = DefaultNamespace
		}
		r.byID[ns+"/"+w.Name] = i
		r.byName[w.Name] = append(r.byName[w.Name], i)
	}
	return r
}

// lookup returns the workload index for ref, or an explanation why there is none.
func (r refIndex) lookup(ref string) (int, string) {
	if strings.Contains(ref, "/") {
		if i, ok := r.byID[ref]; ok {
			return i, ""
		}
		return -1, fmt.Sprintf("unknown workload %q", ref)
	}
	switch c := r.byName[ref]; len(c) {
	case 0:
		return -1, fmt.Sprintf("unknown workload %q", ref)
	case 1:
		return c[0], ""
	default:
		return -1, fmt.Sprintf("workload name %q is ambiguous (%d namespaces): write namespace/name", ref, len(c))
	}
}

// Validate checks g for every problem it can find and returns a *ValidationError
// listing them all, or nil.
func Validate(g *Graph) error {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if g.APIVersion != APIVersion {
		add("apiVersion", "got %q, want %q", g.APIVersion, APIVersion)
	}
	if g.Kind != Kind {
		add("kind", "got %q, want %q", g.Kind, Kind)
	}
	if len(g.Workloads) == 0 {
		add("workloads", "at least one workload is required")
	}
	if g.Nodes != nil && *g.Nodes < 1 {
		add("nodes", "must be at least 1, got %d", *g.Nodes)
	}
	validateWaypoints(add, g.Waypoints)
	seen := make(map[string]int, len(g.Workloads))
	for i, w := range g.Workloads {
		validateWorkload(add, item{"workloads", i}, w, seen)
	}
	refs := newRefIndex(g.Workloads)
	for i, e := range g.Edges {
		validateEdge(add, item{"edges", i}, e, refs)
	}
	validateServices(add, g)
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}

// problemFunc records one problem at a field path.
type problemFunc func(path, format string, args ...any)

// validateWorkload checks workloads[i]; seen maps the IDs before it to
// their index, for duplicates.
func validateWorkload(add problemFunc, p item, w Workload, seen map[string]int) {
	validateName(add, p, "workload", w.Name, w.Namespace, seen)
	checkSpelling(add, p, "mode", w.Mode, dataplane.ParseMode)
	checkSpelling(add, p, "outbound", w.Outbound, dataplane.ParseCaptureMode)
	if w.Waypoint != "" {
		if why := waypointRefProblem(w.Waypoint, false); why != "" {
			add(p.Field("waypoint"), "%s", why)
		} else if mode := cmp.Or(w.Mode, DefaultMode); mode.Capture() != dataplane.Ambient {
			add(p.Field("waypoint"), "a waypoint serves ambient workloads, but mode is %s: set mode: ambient", mode)
		}
	}
	if w.Replicas != nil && *w.Replicas < 1 {
		add(p.Field("replicas"), "must be at least 1, got %d", *w.Replicas)
	}
	checkNumber(add, p, "requestsPerSecond", w.RequestsPerSecond, 0, MaxRequestsPerSecond)
	if w.ProxyConcurrency != nil && *w.ProxyConcurrency < 0 {
		add(p.Field("proxyConcurrency"), "must not be negative, got %d", *w.ProxyConcurrency)
	}
	if w.ProxyCPULimitMillicores != nil && *w.ProxyCPULimitMillicores <= 0 {
		add(p.Field("proxyCPULimitMillicores"), "must be positive, got %d", *w.ProxyCPULimitMillicores)
	}
	checkAtMost(add, p, "replicas", w.Replicas, MaxReplicas)
	checkAtMost(add, p, "proxyConcurrency", w.ProxyConcurrency, MaxProxyConcurrency)
	checkAtMost(add, p, "proxyCPULimitMillicores", w.ProxyCPULimitMillicores, MaxProxyCPULimitMillicores)
}

// checkSpelling reports a field that is set to a value parse refuses.
func checkSpelling[T ~string](add problemFunc, it item, field string, v T, parse func(string) (T, error)) {
	if v == "" {
		return
	}
	if _, err := parse(string(v)); err != nil {
		add(it.Field(field), "%v", err)
	}
}

// checkAtMost reports an integer field above its limit.
func checkAtMost(add problemFunc, it item, field string, v *int, limit int) {
	if v != nil && *v > limit {
		add(it.Field(field), "must not be above %d, got %d", limit, *v)
	}
}

// validateEdge checks edges[i], its ends looked up in refs.
func validateEdge(add problemFunc, p item, e Edge, refs refIndex) {
	for _, end := range []struct{ field, ref string }{{"from", e.From}, {"to", e.To}} {
		if end.ref == "" {
			add(p.Field(end.field), "required")
			continue
		}
		if _, why := refs.lookup(end.ref); why != "" {
			add(p.Field(end.field), "%s", why)
		}
	}
	checkSpelling(add, p, "protocol", e.Protocol, dataplane.ParseProtocol)
	if e.Waypoint != "" {
		if why := waypointRefProblem(e.Waypoint, true); why != "" {
			add(p.Field("waypoint"), "%s", why)
		}
	}
	for _, n := range []struct {
		field    string
		v        *float64
		min, max float64
	}{
		{"requestsPerSecond", e.RequestsPerSecond, 0, MaxRequestsPerSecond}, {"requestBytes", e.RequestBytes, 0, MaxMessageBytes},
		{"responseBytes", e.ResponseBytes, 0, MaxMessageBytes}, {"bytesPerSecond", e.BytesPerSecond, 0, MaxBytesPerSecond},
		{"connectionsPerSecond", e.ConnectionsPerSecond, 0, MaxRequestsPerSecond},
		{"mirrorPercent", e.MirrorPercent, 0, 100}, {"tracingSamplingPercent", e.TracingSamplingPercent, 0, 100},
	} {
		checkNumber(add, p, n.field, n.v, n.min, n.max)
	}
	if e.Protocol != "" && e.Protocol != dataplane.TCP {
		if e.BytesPerSecond != nil {
			add(p.Field("bytesPerSecond"), "only valid for tcp edges; use requestsPerSecond with requestBytes/responseBytes")
		}
		if e.ConnectionsPerSecond != nil {
			add(p.Field("connectionsPerSecond"), "only valid for tcp edges")
		}
	}
	if e.Retries != nil {
		if e.Retries.Attempts < 0 || e.Retries.Attempts > 100 {
			add(p.Field("retries.attempts"), "must be between 0 and 100, got %d", e.Retries.Attempts)
		}
		checkNumber(add, p, "retries.failureRate", e.Retries.FailureRate, 0, 1)
	}
	for j, f := range e.Filters {
		if strings.TrimSpace(f) == "" {
			add(fmt.Sprintf("%s.filters[%d]", p, j), "must not be empty")
		}
	}
}

// validateName checks the name and namespace of the workload or waypoint at
// p, and that none before it (seen maps their IDs to their index) has the
// same ID.
func validateName(add problemFunc, p item, what, name, namespace string, seen map[string]int) {
	switch {
	case name == "":
		add(p.Field("name"), "required")
	case strings.ContainsAny(name, "/ \t"):
		add(p.Field("name"), "%q must not contain '/' or spaces", name)
	}
	if strings.ContainsAny(namespace, "/ \t") {
		add(p.Field("namespace"), "%q must not contain '/' or spaces", namespace)
	}
	id := cmp.Or(namespace, DefaultNamespace) + "/" + name
	if j, dup := seen[id]; dup && name != "" {
		add(p.Field("name"), "duplicate %s %q (also %s[%d])", what, id, p.list, j)
	}
	seen[id] = p.index
}

// validateWaypoints checks the waypoints list: names, duplicates, replicas.
func validateWaypoints(add problemFunc, ws []Waypoint) {
	seen := make(map[string]int, len(ws))
	for i, w := range ws {
		p := item{"waypoints", i}
		validateName(add, p, "waypoint", w.Name, w.Namespace, seen)
		if w.Name == NoWaypoint {
			add(p.Field("name"), "%q names no waypoint: choose another name", NoWaypoint)
		}
		if w.Replicas != nil && *w.Replicas < 1 {
			add(p.Field("replicas"), "must be at least 1, got %d", *w.Replicas)
		}
	}
}

// waypointRefProblem says what is wrong with a waypoint reference ("name"
// or "namespace/name"; "none" too where noneOK), or "".
func waypointRefProblem(ref string, noneOK bool) string {
	if ref == NoWaypoint {
		if noneOK {
			return ""
		}
		return fmt.Sprintf("%q is only valid on an edge; leave the field out for no waypoint", NoWaypoint)
	}
	ns, name, qualified := strings.Cut(ref, "/")
	if !qualified {
		ns, name = "x", ref
	}
	if ns == "" || name == "" || strings.ContainsAny(ref, " \t") || strings.Count(ref, "/") > 1 {
		return fmt.Sprintf("%q: want a waypoint as name or namespace/name", ref)
	}
	return ""
}

// item locates a list element; its field paths are only formatted when a problem
// is found, which keeps validating 100,000 edges cheap.
type item struct {
	list  string
	index int
}

func (it item) String() string { return fmt.Sprintf("%s[%d]", it.list, it.index) }

// Field returns the path of one of the item's fields.
func (it item) Field(name string) string { return it.String() + "." + name }

func checkNumber(add func(string, string, ...any), it item, field string, v *float64, lo, hi float64) {
	if v == nil {
		return
	}
	switch {
	case math.IsNaN(*v) || math.IsInf(*v, 0):
		add(it.Field(field), "must be a finite number, got %v", *v)
	case *v < lo:
		add(it.Field(field), "must not be below %v, got %v", lo, *v)
	case *v > hi:
		add(it.Field(field), "must not be above %v, got %v", hi, *v)
	}
}
