package cluster

import (
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/kube"
	"github.com/meshinsight/kubectl-meshinsight/pkg/telemetry"
)

// callKey identifies one call: client workload, server workload and the
// Service called, whatever the protocol a proxy saw it as.
type callKey struct {
	src, dst, service string
}

func keyOf(t telemetry.EdgeTraffic) callKey {
	return callKey{t.SourceNamespace + "/" + t.SourceWorkload, t.DestinationNamespace + "/" + t.DestinationWorkload,
		t.DestinationNamespace + "/" + t.DestinationService}
}

// joinCalls turns the traffic telemetry reports into one entry per call.
// Proxies report one call several times: a waypoint (L7, reporter
// "waypoint"), sidecars (L7, reporters "source" and "destination") and the
// ztunnels on both nodes (L4, request_protocol "tcp"), and with a waypoint
// the ztunnels report the legs client → waypoint and waypoint → server.
// telemetry already keeps one reporter per protocol; here:
//   - legs to a waypoint are taken as calls to the Service's workload
//     (when the Service has one), legs from a waypoint are dropped (the
//     client's leg or the waypoint's own report has the call);
//   - calls from another Gateway (an ingress) become requests entering the
//     mesh at their server (returned as external, by server workload ID);
//   - an L4 report of a call that an L7 report has too is dropped when
//     either end is ambient or it is a leg through a waypoint: the
//     ztunnels saw the L7 call as bytes. With sidecars on both ends a
//     direct L4 report is a call to a TCP port of its own, and kept;
//   - of two L4 reports of one call (direct and through a waypoint), the
//     direct one is kept.
//
// L7 reports are kept for protocol, rate and sizes; L4 reports remain for
// calls that only ztunnels (or TCP proxies) saw.
func (b *builder) joinCalls(edges []telemetry.EdgeTraffic) (calls []telemetry.EdgeTraffic, external map[string]float64) {
	type report struct {
		telemetry.EdgeTraffic
		leg bool // a leg to a waypoint, taken as the call it carries
	}
	external = map[string]float64{}
	var direct, legs []report
	for _, t := range edges {
		switch b.roles[t.SourceNamespace+"/"+t.SourceWorkload] {
		case kube.RoleWaypoint:
			continue
		case kube.RoleGateway:
			external[t.DestinationNamespace+"/"+t.DestinationWorkload] += t.RequestsPerSecond
			continue
		}
		if b.roles[t.DestinationNamespace+"/"+t.DestinationWorkload] != kube.RoleWaypoint {
			direct = append(direct, report{t, false})
			continue
		}
		svc, ok := b.kubeServices[t.DestinationNamespace+"/"+t.DestinationService]
		if !ok || len(svc.Workloads) != 1 {
			b.notes.Add(diag.New(diag.TelemetryIncomplete, t.Name(),
				"a leg to waypoint %s/%s names no Service with exactly one workload (%q); left out",
				t.DestinationNamespace, t.DestinationWorkload, t.DestinationService))
			continue
		}
		t.DestinationNamespace, t.DestinationWorkload = splitID(svc.Workloads[0])
		legs = append(legs, report{t, true})
	}
	type protoKey struct {
		callKey
		protocol string
	}
	seen, l7 := map[protoKey]bool{}, map[callKey]bool{}
	var all []report
	for _, r := range append(direct, legs...) { // a direct report before a leg's
		if k := (protoKey{keyOf(r.EdgeTraffic), r.Protocol}); !seen[k] {
			seen[k] = true
			all = append(all, r)
			l7[k.callKey] = l7[k.callKey] || r.Protocol != "tcp"
		}
	}
	for _, r := range all {
		k := keyOf(r.EdgeTraffic)
		if r.Protocol == "tcp" && l7[k] && (r.leg || b.ambient(k.src) || b.ambient(k.dst)) {
			continue // the ztunnels' view of an L7 call
		}
		calls = append(calls, r.EdgeTraffic)
	}
	return calls, external
}

// aboutCalls drops telemetry's reporter notes about the legs to and from
// waypoints and gateways ("ns/a -> ns/b" subjects): those legs are not
// edges of the graph.
func (b *builder) aboutCalls(msgs []diag.Message) []diag.Message {
	out := msgs[:0:0]
	for _, m := range msgs {
		src, dst, ok := strings.Cut(m.Subject, " -> ")
		if ok && m.Code == diag.ReporterFallback && (b.roles[src] != kube.RoleApplication || b.roles[dst] != kube.RoleApplication) {
			continue
		}
		out = append(out, m)
	}
	return out
}

// ambient reports whether the workload's pods are captured by ztunnel.
func (b *builder) ambient(id string) bool {
	w, ok := b.kubeWorkloads[id]
	return ok && w.DataPlane.Mode.Capture() == dataplane.Ambient
}

// splitID splits "namespace/name".
func splitID(id string) (ns, name string) {
	ns, name, _ = strings.Cut(id, "/")
	return ns, name
}
