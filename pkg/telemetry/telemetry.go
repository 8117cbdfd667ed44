// Package telemetry reads the traffic a mesh observed, edge by edge: requests
// per second, mean message sizes, gRPC message rates and TCP byte and
// connection rates between two workloads. It reads Istio's standard metrics
// either from Prometheus (PromQL over the HTTP API, directly or through the
// Kubernetes API server's service proxy) or, without Prometheus, from the
// sidecars themselves (two scrapes of pilot-agent's merged stats on port 15020
// through the API server's pod proxy).
//
// The results are plain Go values: no Prometheus or Kubernetes type leaks out.
//
// # Which proxy's report counts
//
// Every request through two sidecars is counted twice, once by the client's
// proxy (reporter="source") and once by the server's (reporter="destination");
// a waypoint in ambient mode counts it as reporter="waypoint". An edge is
// identified by source workload and namespace, destination workload and
// namespace, destination service name and protocol, and for each edge exactly
// one reporter is used, in this order of preference:
//
//  1. source: the client's proxy sees every request the client sent,
//     including those that failed before reaching the server;
//  2. waypoint: for ambient clients, which have no client-side L7 proxy;
//  3. destination: for clients without any proxy; the server's proxy
//     reports them with source_workload "unknown" unless the client's
//     identity is known, so such edges usually come from an "unknown" source.
//
// Rates, sizes and message counts of an edge all come from the chosen
// reporter, never a sum of several. The connection security policy is the
// exception: a client's proxy always reports "unknown", so it is taken from
// the destination reporter of the same edge when there is one.
package telemetry

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// Source names where observed traffic comes from: the source a reader chose
// (Traffic.Source is SourcePrometheus or SourceSidecars) and the choice a user
// makes between them (--source).
type Source string

// Telemetry sources.
const (
	// SourceAuto tries Prometheus, then the sidecars' own stats, then
	// configuration.
	SourceAuto Source = "auto"
	// SourcePrometheus is traffic read from Prometheus.
	SourcePrometheus Source = "prometheus"
	// SourceSidecars is traffic computed from two scrapes of the sidecars'
	// stats through the API server's pod proxy.
	SourceSidecars Source = "sidecars"
	// SourceConfig uses no telemetry: edges come from Istio configuration.
	SourceConfig Source = "config"
)

// Sources lists the sources a user can choose.
var Sources = []Source{SourceAuto, SourcePrometheus, SourceSidecars, SourceConfig}

// ParseSource returns the Source spelled s.
func ParseSource(s string) (Source, error) {
	for _, v := range Sources {
		if string(v) == s {
			return v, nil
		}
	}
	return "", fmt.Errorf("unknown telemetry source %q (want auto, prometheus, sidecars or config)", s)
}

// The values of Istio's reporter label.
const (
	// ReporterSource is the client-side proxy.
	ReporterSource = "source"
	// ReporterDestination is the server-side proxy.
	ReporterDestination = "destination"
	// ReporterWaypoint is an ambient waypoint proxy.
	ReporterWaypoint = "waypoint"
)

// Traffic is the traffic observed on every edge over a window.
type Traffic struct {
	// Source says where the figures came from: SourcePrometheus or SourceSidecars.
	Source Source `json:"source"`
	// Window is the interval the rates average over.
	Window time.Duration `json:"window"`
	// Edges holds one entry per edge with traffic, sorted by source then
	// destination.
	Edges []EdgeTraffic `json:"edges"`
	// Messages reports partial results, missing data and fallbacks.
	Messages []diag.Message `json:"messages,omitempty"`
}

// EdgeTraffic is the observed traffic of one edge: calls from one workload to
// one service's workload over one protocol. Rates are per second over
// Traffic.Window; sizes are means in bytes.
type EdgeTraffic struct {
	// SourceWorkload is the client workload; "unknown" when the server's
	// proxy could not identify it (a client without a sidecar).
	SourceWorkload string `json:"sourceWorkload"`
	// SourceNamespace is the client workload's namespace.
	SourceNamespace string `json:"sourceNamespace"`
	// DestinationWorkload is the server workload.
	DestinationWorkload string `json:"destinationWorkload"`
	// DestinationNamespace is the server workload's namespace.
	DestinationNamespace string `json:"destinationNamespace"`
	// DestinationService is the destination service's short name
	// (Istio's destination_service_name label).
	DestinationService string `json:"destinationService"`
	// Protocol is Istio's request_protocol label: http, grpc, tcp, ...
	Protocol string `json:"protocol"`
	// ConnectionSecurity is mutual_tls, none or unknown.
	ConnectionSecurity string `json:"connectionSecurity"`

	// RequestsPerSecond counts HTTP and gRPC requests (istio_requests_total).
	RequestsPerSecond float64 `json:"requestsPerSecond,omitempty"`
	// HasSizes reports whether both mean sizes were measured; a mean that
	// was not measured is 0.
	HasSizes bool `json:"hasSizes"`
	// MeanRequestBytes is rate(istio_request_bytes_sum) / rate(istio_request_bytes_count).
	MeanRequestBytes float64 `json:"meanRequestBytes,omitempty"`
	// MeanResponseBytes is rate(istio_response_bytes_sum) / rate(istio_response_bytes_count).
	MeanResponseBytes float64 `json:"meanResponseBytes,omitempty"`
	// RequestMessagesPerSecond counts gRPC request messages (istio_request_messages_total).
	RequestMessagesPerSecond float64 `json:"requestMessagesPerSecond,omitempty"`
	// ResponseMessagesPerSecond counts gRPC response messages (istio_response_messages_total).
	ResponseMessagesPerSecond float64 `json:"responseMessagesPerSecond,omitempty"`

	// TCPSentBytesPerSecond is the response direction, server to client
	// (istio_tcp_sent_bytes_total).
	TCPSentBytesPerSecond float64 `json:"tcpSentBytesPerSecond,omitempty"`
	// TCPReceivedBytesPerSecond is the request direction, client to server
	// (istio_tcp_received_bytes_total).
	TCPReceivedBytesPerSecond float64 `json:"tcpReceivedBytesPerSecond,omitempty"`
	// TCPConnectionsOpenedPerSecond counts new connections (istio_tcp_connections_opened_total).
	TCPConnectionsOpenedPerSecond float64 `json:"tcpConnectionsOpenedPerSecond,omitempty"`

	// Reporter is the proxy whose report was used: ReporterSource,
	// ReporterWaypoint or ReporterDestination (see the package doc).
	Reporter string `json:"reporter"`
}

// Name renders the edge as "ns/client -> ns/server", the subject of its messages.
func (e EdgeTraffic) Name() string {
	return edgeName(edgeKey{
		srcWorkload: e.SourceWorkload, srcNamespace: e.SourceNamespace,
		dstWorkload: e.DestinationWorkload, dstNamespace: e.DestinationNamespace,
	})
}

// PodRef names a pod whose sidecar is scraped and the workload it belongs to.
type PodRef struct {
	// Namespace and Name identify the pod.
	Namespace string
	Name      string
	// Workload names the pod's workload in messages; it may be empty.
	Workload string
}

// String renders the pod as "namespace/name".
func (p PodRef) String() string { return p.Namespace + "/" + p.Name }

// metric is one of the Istio metrics an edge's traffic is made of. Histograms
// are read as two counters, _sum and _count.
type metric int

const (
	requests metric = iota
	requestBytesSum
	requestBytesCount
	responseBytesSum
	responseBytesCount
	requestMessages
	responseMessages
	tcpSentBytes
	tcpReceivedBytes
	tcpConnectionsOpened
	numMetrics
)

// seriesName is the name of each metric's time series, as Prometheus stores it.
var seriesName = [numMetrics]string{
	requests:             "istio_requests_total",
	requestBytesSum:      "istio_request_bytes_sum",
	requestBytesCount:    "istio_request_bytes_count",
	responseBytesSum:     "istio_response_bytes_sum",
	responseBytesCount:   "istio_response_bytes_count",
	requestMessages:      "istio_request_messages_total",
	responseMessages:     "istio_response_messages_total",
	tcpSentBytes:         "istio_tcp_sent_bytes_total",
	tcpReceivedBytes:     "istio_tcp_received_bytes_total",
	tcpConnectionsOpened: "istio_tcp_connections_opened_total",
}

// Istio's label names that identify an edge.
const (
	labelReporter           = "reporter"
	labelSourceWorkload     = "source_workload"
	labelSourceNamespace    = "source_workload_namespace"
	labelDestWorkload       = "destination_workload"
	labelDestNamespace      = "destination_workload_namespace"
	labelDestServiceName    = "destination_service_name"
	labelRequestProtocol    = "request_protocol"
	labelConnectionSecurity = "connection_security_policy"
)

// groupLabels are the labels every query groups by and every scrape keeps.
var groupLabels = []string{
	labelReporter,
	labelSourceWorkload, labelSourceNamespace,
	labelDestWorkload, labelDestNamespace, labelDestServiceName,
	labelRequestProtocol, labelConnectionSecurity,
}

// edgeKey identifies an edge independently of the reporter.
type edgeKey struct {
	srcWorkload, srcNamespace string
	dstWorkload, dstNamespace string
	dstService                string
	protocol                  string
}

func edgeName(k edgeKey) string {
	return fmt.Sprintf("%s/%s -> %s/%s", k.srcNamespace, k.srcWorkload, k.dstNamespace, k.dstWorkload)
}

// sample is one per-second rate of one metric, as one reporter saw it.
type sample struct {
	metric   metric
	reporter string
	edge     edgeKey
	security string
	perSec   float64
}

// sampleFromLabels builds a sample from a series' labels; get returns a
// label's value or "" when the label is absent.
func sampleFromLabels(m metric, get func(string) string, perSec float64) sample {
	return sample{
		metric:   m,
		reporter: get(labelReporter),
		edge: edgeKey{
			srcWorkload:  get(labelSourceWorkload),
			srcNamespace: get(labelSourceNamespace),
			dstWorkload:  get(labelDestWorkload),
			dstNamespace: get(labelDestNamespace),
			dstService:   get(labelDestServiceName),
			protocol:     get(labelRequestProtocol),
		},
		security: get(labelConnectionSecurity),
		perSec:   perSec,
	}
}

// reporterPreference lists the reporters in the order an edge's figures are
// taken from them (see the package doc).
var reporterPreference = []string{ReporterSource, ReporterWaypoint, ReporterDestination}

// reported accumulates what one reporter saw of one edge.
type reported struct {
	perSec   [numMetrics]float64
	security map[string]float64 // connection_security_policy → traffic weight
}

// active reports whether the reporter saw any traffic on the edge.
func (r *reported) active() bool {
	return r.perSec[requests] > 0 || r.perSec[tcpSentBytes] > 0 ||
		r.perSec[tcpReceivedBytes] > 0 || r.perSec[tcpConnectionsOpened] > 0
}

// dominantSecurity returns the security policy carrying most of the traffic,
// "" when none is known. Ties go to the alphabetically first, for stable output.
func (r *reported) dominantSecurity() string {
	best, bestWeight := "", -1.0
	for policy, w := range r.security {
		if policy == "" || policy == "unknown" {
			continue
		}
		if w > bestWeight || (w == bestWeight && policy < best) {
			best, bestWeight = policy, w
		}
	}
	return best
}

// edgeTraffic is the traffic of one edge as the chosen reporter saw it;
// its connection security comes from the destination reporter when the
// chosen one (a client's proxy) does not know it.
func edgeTraffic(key edgeKey, reporter string, chosen, destination *reported) EdgeTraffic {
	e := EdgeTraffic{
		SourceWorkload:       key.srcWorkload,
		SourceNamespace:      key.srcNamespace,
		DestinationWorkload:  key.dstWorkload,
		DestinationNamespace: key.dstNamespace,
		DestinationService:   key.dstService,
		Protocol:             key.protocol,
		Reporter:             reporter,

		RequestsPerSecond:             chosen.perSec[requests],
		RequestMessagesPerSecond:      chosen.perSec[requestMessages],
		ResponseMessagesPerSecond:     chosen.perSec[responseMessages],
		TCPSentBytesPerSecond:         chosen.perSec[tcpSentBytes],
		TCPReceivedBytesPerSecond:     chosen.perSec[tcpReceivedBytes],
		TCPConnectionsOpenedPerSecond: chosen.perSec[tcpConnectionsOpened],
	}
	reqKnown, respKnown := false, false
	if n := chosen.perSec[requestBytesCount]; n > 0 {
		e.MeanRequestBytes, reqKnown = chosen.perSec[requestBytesSum]/n, true
	}
	if n := chosen.perSec[responseBytesCount]; n > 0 {
		e.MeanResponseBytes, respKnown = chosen.perSec[responseBytesSum]/n, true
	}
	e.HasSizes = reqKnown && respKnown

	e.ConnectionSecurity = chosen.dominantSecurity()
	if e.ConnectionSecurity == "" && destination != nil {
		e.ConnectionSecurity = destination.dominantSecurity()
	}
	if e.ConnectionSecurity == "" {
		e.ConnectionSecurity = "unknown"
	}
	return e
}

// assemble merges samples into edges, choosing one reporter per edge, and
// reports the fallbacks it made. Samples with unknown reporters or
// impossible values are dropped with a message.
func assemble(samples []sample) ([]EdgeTraffic, []diag.Message) {
	var msgs diag.List
	byEdge := map[edgeKey]map[string]*reported{}
	for _, s := range samples {
		if s.perSec < 0 || math.IsNaN(s.perSec) || math.IsInf(s.perSec, 0) {
			msgs.Add(diag.New(diag.TelemetryMalformed, edgeName(s.edge),
				"%s reported by %q has the impossible rate %v; skipped", seriesName[s.metric], s.reporter, s.perSec))
			continue
		}
		switch s.reporter {
		case ReporterSource, ReporterDestination, ReporterWaypoint:
		default:
			msgs.Add(diag.New(diag.TelemetryMalformed, edgeName(s.edge),
				"%s has an unknown reporter %q (want source, destination or waypoint); skipped", seriesName[s.metric], s.reporter))
			continue
		}
		reporters := byEdge[s.edge]
		if reporters == nil {
			reporters = map[string]*reported{}
			byEdge[s.edge] = reporters
		}
		r := reporters[s.reporter]
		if r == nil {
			r = &reported{security: map[string]float64{}}
			reporters[s.reporter] = r
		}
		r.perSec[s.metric] += s.perSec
		switch s.metric {
		case requests, tcpSentBytes, tcpReceivedBytes, tcpConnectionsOpened:
			// Bytes and requests are not comparable weights, but an edge has
			// one protocol and so only one kind of weight.
			r.security[s.security] += s.perSec
		}
	}

	edges := make([]EdgeTraffic, 0, len(byEdge))
	for key, reporters := range byEdge {
		var chosen *reported
		var reporter string
		for _, name := range reporterPreference {
			if r := reporters[name]; r != nil && r.active() {
				chosen, reporter = r, name
				break
			}
		}
		if chosen == nil {
			continue // only sizes or idle series: no traffic on this edge
		}
		e := edgeTraffic(key, reporter, chosen, reporters[ReporterDestination])
		if reporter != ReporterSource {
			msgs.Add(diag.New(diag.ReporterFallback, edgeName(key),
				"no client-side proxy reported this edge; its traffic comes from reporter=%q", reporter))
		}
		edges = append(edges, e)
	}
	sortEdges(edges)
	return edges, msgs.Sorted()
}

// sortEdges orders edges by source, destination, service and protocol.
func sortEdges(edges []EdgeTraffic) {
	sort.Slice(edges, func(i, j int) bool {
		a, b := edges[i], edges[j]
		for _, p := range [][2]string{
			{a.SourceNamespace, b.SourceNamespace},
			{a.SourceWorkload, b.SourceWorkload},
			{a.DestinationNamespace, b.DestinationNamespace},
			{a.DestinationWorkload, b.DestinationWorkload},
			{a.DestinationService, b.DestinationService},
			{a.Protocol, b.Protocol},
		} {
			if p[0] != p[1] {
				return p[0] < p[1]
			}
		}
		return false
	})
}
