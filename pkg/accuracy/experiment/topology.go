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
type Topology struct {
	// Entry is the pod of the load generator; it makes exactly one call.
	Entry string
	// Calls are the edges. Every pod but Entry is called exactly once per
	// request (a tree), so a service's inbound protocol and mTLS are those
	// of its one incoming call.
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

// Validate checks that t is a tree rooted at Entry with one entry call. It
// does no I/O.
func (t Topology) Validate() error {
	var errs []error
	calledBy := map[string]string{}
	for _, c := range t.Calls {
		if c.Protocol != dataplane.HTTP && c.Protocol != dataplane.TCP {
			errs = append(errs, fmt.Errorf("call %s: protocol %q: want http or tcp", c.Name(), c.Protocol))
		}
		if c.RequestBytes < 0 || c.ResponseBytes < 0 {
			errs = append(errs, fmt.Errorf("call %s: negative size", c.Name()))
		}
		if c.To == t.Entry {
			errs = append(errs, fmt.Errorf("call %s: nothing may call the entry %s", c.Name(), t.Entry))
		}
		if prev, ok := calledBy[c.To]; ok {
			errs = append(errs, fmt.Errorf("%s is called by %s and %s: the topology must be a tree", c.To, prev, c.From))
		}
		calledBy[c.To] = c.From
	}
	if n := len(t.EntryCalls()); n != 1 {
		errs = append(errs, fmt.Errorf("entry %q makes %d calls, want 1", t.Entry, n))
	}
	for _, s := range t.Services() {
		// Every service must be reachable from the entry (no cycles).
		seen := map[string]bool{}
		for at := s; at != t.Entry; {
			if seen[at] {
				errs = append(errs, fmt.Errorf("%s is on a call cycle", s))
				break
			}
			seen[at] = true
			from, ok := calledBy[at]
			if !ok {
				errs = append(errs, fmt.Errorf("%s is not reachable from the entry %s", s, t.Entry))
				break
			}
			at = from
		}
	}
	return errors.Join(errs...)
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

// Inbound returns the call into service s.
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
// and the entry rate on each edge (one call per request).
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
		rps := rate
		req, resp := float64(c.RequestBytes), float64(c.ResponseBytes)
		g.Edges = append(g.Edges, callgraph.Edge{
			From: Namespace + "/" + c.From, To: Namespace + "/" + c.To,
			Protocol: c.Protocol, MTLS: &mtls,
			RequestsPerSecond: &rps, RequestBytes: &req, ResponseBytes: &resp,
		})
	}
	return g
}
