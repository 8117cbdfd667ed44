// Package experiment describes what a validation run measures and what it
// found, as plain data the CLI can render without linking the measuring code
// (pkg/accuracy, which loads eBPF): the test application (Topology, its call
// graph), the raw interleaved measurements (Round, LoadRun), the comparison
// of measured with predicted figures (Compare, Row) and the error statistics
// over them (Summarize). pkg/printers renders its Report.
package experiment

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
)

// Namespace is the namespace of every workload of the call graph.
const Namespace = "validate"

// Call is one edge of the test application: From calls To once per request
// that From serves (fan-out calls of one service run in parallel).
type Call struct {
	From, To string
	// Protocol is http (HTTP/1.1) or tcp (the echo tcp protocol).
	Protocol dataplane.Protocol
	MTLS     bool
	// RequestBytes and ResponseBytes are the payload sizes of each call.
	RequestBytes, ResponseBytes int
}

// Name renders the call as the call graph names edges, "from->to".
func (c Call) Name() string { return c.From + "->" + c.To }

// Topology is the test application: an entry pod that runs the load
// generator and services that relay or echo. Every pod has a sidecar.
//
// The calls form a directed acyclic graph with one entry: a service may be
// called by several callers and may call several services, and each call is
// made once per request its caller serves, so a service called by two
// callers that each serve one request per entry request serves two.
type Topology struct {
	// Entry is the pod of the load generator; it makes exactly one call.
	Entry string
	// Calls are the edges, at most one per pair of pods. The calls into one
	// service agree on protocol and mTLS: the service serves one protocol and
	// its sidecar has one inbound listener.
	Calls []Call
}

// DefaultTopology is the validation's application: four services with a
// fan-out, HTTP/1.1 and TCP edges, mTLS on two of four edges, covering every
// protocol × mTLS variant of the profile once.
//
//	client ─http,mTLS─▶ front ─┬─http────▶ orders ─tcp─▶ db
//	                           └─tcp,mTLS─▶ cache
func DefaultTopology() Topology {
	return Topology{
		Entry: "client",
		Calls: []Call{
			{From: "client", To: "front", Protocol: "http", MTLS: true, RequestBytes: 256, ResponseBytes: 1024},
			{From: "front", To: "orders", Protocol: "http", RequestBytes: 512, ResponseBytes: 2048},
			{From: "front", To: "cache", Protocol: "tcp", MTLS: true, RequestBytes: 128, ResponseBytes: 512},
			{From: "orders", To: "db", Protocol: "tcp", RequestBytes: 256, ResponseBytes: 4096},
		},
	}
}

// DiamondTopology is a second application of another shape: a fan-out of
// three, two branches joining at one store (called twice per request), plain
// HTTP into the gateway and mTLS on the HTTP and TCP calls behind it but one.
// The gateway's sidecar serves four edges and the store's two callers.
//
//	client ─http─▶ gateway ─┬─http,mTLS─▶ users ───tcp,mTLS─┐
//	                        ├─http,mTLS─▶ catalog ─tcp,mTLS─┴▶ store
//	                        └─tcp───────▶ search
func DiamondTopology() Topology {
	return Topology{
		Entry: "client",
		Calls: []Call{
			{From: "client", To: "gateway", Protocol: "http", RequestBytes: 300, ResponseBytes: 1500},
			{From: "gateway", To: "users", Protocol: "http", MTLS: true, RequestBytes: 200, ResponseBytes: 800},
			{From: "gateway", To: "catalog", Protocol: "http", MTLS: true, RequestBytes: 200, ResponseBytes: 3000},
			{From: "gateway", To: "search", Protocol: "tcp", RequestBytes: 128, ResponseBytes: 256},
			{From: "users", To: "store", Protocol: "tcp", MTLS: true, RequestBytes: 256, ResponseBytes: 1024},
			{From: "catalog", To: "store", Protocol: "tcp", MTLS: true, RequestBytes: 256, ResponseBytes: 4096},
		},
	}
}

// Validate checks that t is a call DAG with one entry (see Topology): the
// entry makes one call and nothing calls it, every service is reachable
// from it, no call closes a cycle, no pair of pods is joined twice, and the
// calls into a service agree on protocol and mTLS. It does no I/O.
func (t Topology) Validate() error {
	var errs []error
	into := map[string]Call{}
	seen := map[[2]string]bool{}
	for _, c := range t.Calls {
		if c.Protocol != dataplane.HTTP && c.Protocol != dataplane.TCP {
			errs = append(errs, fmt.Errorf("call %s: protocol %q: want http or tcp", c.Name(), c.Protocol))
		}
		if c.RequestBytes < 0 || c.ResponseBytes < 0 {
			errs = append(errs, fmt.Errorf("call %s: negative size", c.Name()))
		}
		if c.From == c.To {
			errs = append(errs, fmt.Errorf("call %s: a pod cannot call itself", c.Name()))
		}
		if c.To == t.Entry {
			errs = append(errs, fmt.Errorf("call %s: nothing may call the entry %s", c.Name(), t.Entry))
		}
		if seen[[2]string{c.From, c.To}] {
			errs = append(errs, fmt.Errorf("call %s listed twice: a caller makes one call per callee", c.Name()))
		}
		seen[[2]string{c.From, c.To}] = true
		if prev, ok := into[c.To]; ok && (prev.Protocol != c.Protocol || prev.MTLS != c.MTLS) {
			errs = append(errs, fmt.Errorf("calls %s and %s both enter %s, so they need the same protocol and mTLS", prev.Name(), c.Name(), c.To))
		} else if !ok {
			into[c.To] = c
		}
	}
	if n := len(t.EntryCalls()); n != 1 {
		errs = append(errs, fmt.Errorf("entry %q makes %d calls, want 1", t.Entry, n))
	}
	reached := map[string]bool{t.Entry: true}
	for todo := []string{t.Entry}; len(todo) > 0; {
		at := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for _, c := range t.CallsFrom(at) {
			if !reached[c.To] {
				reached[c.To] = true
				todo = append(todo, c.To)
			}
		}
	}
	for _, s := range t.Services() {
		if !reached[s] {
			errs = append(errs, fmt.Errorf("%s is not reachable from the entry %s", s, t.Entry))
		}
	}
	if _, cyclic := t.order(); len(cyclic) > 0 {
		errs = append(errs, fmt.Errorf("%s on a call cycle", strings.Join(cyclic, ", ")))
	}
	return errors.Join(errs...)
}

// order lists the pods in topological order (every caller before its
// callees) and, apart, the pods it could not order: those on a call cycle
// or below one.
func (t Topology) order() (ordered, cyclic []string) {
	callers := map[string]int{}
	for _, c := range t.Calls {
		callers[c.To]++
	}
	var ready []string
	for _, p := range t.Pods() {
		if callers[p] == 0 {
			ready = append(ready, p)
		}
	}
	for len(ready) > 0 {
		p := ready[0]
		ready = ready[1:]
		ordered = append(ordered, p)
		for _, c := range t.CallsFrom(p) {
			if callers[c.To]--; callers[c.To] == 0 {
				ready = append(ready, c.To)
			}
		}
	}
	for _, p := range t.Pods() {
		if !slices.Contains(ordered, p) {
			cyclic = append(cyclic, p)
		}
	}
	return ordered, cyclic
}

// Visits is how many requests each pod serves per request entering at
// Entry: 1 for the entry, and for a service the sum of its callers'. Pods
// on a cycle (an invalid topology) are left out.
func (t Topology) Visits() map[string]int {
	ordered, _ := t.order()
	visits := map[string]int{t.Entry: 1}
	for _, p := range ordered {
		for _, c := range t.CallsFrom(p) {
			visits[c.To] += visits[p]
		}
	}
	return visits
}

// Pods lists Entry and then every service, in order of first appearance.
func (t Topology) Pods() []string {
	pods := []string{t.Entry}
	for _, c := range t.Calls {
		for _, p := range []string{c.From, c.To} {
			if !slices.Contains(pods, p) {
				pods = append(pods, p)
			}
		}
	}
	return pods
}

// Services lists every pod but Entry.
func (t Topology) Services() []string { return t.Pods()[1:] }

// EntryCalls lists the calls Entry makes.
func (t Topology) EntryCalls() []Call { return t.CallsFrom(t.Entry) }

// CallsFrom lists the calls pod makes.
func (t Topology) CallsFrom(pod string) []Call {
	var out []Call
	for _, c := range t.Calls {
		if c.From == pod {
			out = append(out, c)
		}
	}
	return out
}

// Inbound returns the first call into service s; every call into s has its
// protocol and mTLS (Validate).
func (t Topology) Inbound(s string) Call {
	for _, c := range t.Calls {
		if c.To == s {
			return c
		}
	}
	return Call{}
}

// Graph is t as a call graph at rate requests per second entering at Entry:
// every workload a sidecar, every edge its protocol, explicit mTLS, sizes,
// and its rate: the entry rate times the requests its caller serves per
// entry request (Visits), one call per request served.
func (t Topology) Graph(rate float64) *callgraph.Graph {
	g := &callgraph.Graph{
		APIVersion: callgraph.APIVersion,
		Kind:       callgraph.Kind,
		Metadata: callgraph.Metadata{
			Name: "meshinsight-validate",
			Description: fmt.Sprintf("The chain meshinsight-agent validate measures, at %g req/s entering at %s; "+
				"fan-out calls are parallel (predict with --fanout parallel)", rate, t.Entry),
		},
	}
	one := 1
	visits := t.Visits()
	for _, p := range t.Pods() {
		w := callgraph.Workload{Name: p, Namespace: Namespace, Mode: dataplane.Sidecar, ProxyConcurrency: &one}
		// The entry runs the load generator: no request enters it from
		// outside, so it states no requestsPerSecond (that would be costed
		// at its inbound sidecar); its one call carries the rate.
		w.Entry = p == t.Entry
		g.Workloads = append(g.Workloads, w)
	}
	for _, c := range t.Calls {
		mtls := c.MTLS
		rps := rate * float64(visits[c.From])
		req, resp := float64(c.RequestBytes), float64(c.ResponseBytes)
		g.Edges = append(g.Edges, callgraph.Edge{
			From: Namespace + "/" + c.From, To: Namespace + "/" + c.To,
			Protocol: c.Protocol, MTLS: &mtls,
			RequestsPerSecond: &rps, RequestBytes: &req, ResponseBytes: &resp,
		})
	}
	return g
}
