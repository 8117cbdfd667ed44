// Command gen writes an hour of Istio standard metrics for a Bookinfo-like
// mesh in the OpenMetrics text format, for `promtool tsdb
// create-blocks-from openmetrics`. Every counter grows at a known, constant
// rate, so that rate() over any window inside the hour gives back exactly the
// rates below; pkg/telemetry/prometheus_integration_test.go asserts them
// (keep the two in step).
//
//	go run ./hack/prometheus/gen -end 1700000000 > metrics.om
//
// The series look like what Prometheus scrapes from sidecars with Istio's
// recommended pod-annotation scrape config: every Istio label, plus the
// target labels instance, job, namespace and pod.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// workload is one side of an edge.
type workload struct {
	name, namespace, app, version, serviceAccount string
	pods                                          []string
}

var (
	productpage = workload{"productpage-v1", "bookinfo", "productpage", "v1", "bookinfo-productpage",
		[]string{"productpage-v1-6b746f74dc-9stvs", "productpage-v1-6b746f74dc-q2lzk"}}
	reviewsV1 = workload{"reviews-v1", "bookinfo", "reviews", "v1", "bookinfo-reviews", []string{"reviews-v1-545db77b95-mffvz"}}
	reviewsV2 = workload{"reviews-v2", "bookinfo", "reviews", "v2", "bookinfo-reviews", []string{"reviews-v2-7bf8c9648f-7f6x2"}}
	details   = workload{"details-v1", "bookinfo", "details", "v1", "bookinfo-details", []string{"details-v1-5f4d584748-k2pqm"}}
	ratingsV1 = workload{"ratings-v1", "bookinfo", "ratings", "v1", "bookinfo-ratings", []string{"ratings-v1-7dc98c7588-xjz9v"}}
	ratingsV2 = workload{"ratings-v2", "bookinfo", "ratings", "v2", "bookinfo-ratings", []string{"ratings-v2-b7d8f6b9d-2l5hr"}}
	mongodb   = workload{"mongodb-v1", "db", "mongodb", "v1", "default", []string{"mongodb-v1-6f5c7d8b9-pd7zx"}}
	gateway   = workload{"istio-ingressgateway", "istio-system", "istio-ingressgateway", "latest",
		"istio-ingressgateway-service-account", []string{"istio-ingressgateway-5c8d9b7f6-h4kxz"}}
	frontend = workload{"frontend", "shop", "frontend", "v1", "frontend", nil} // ambient: no sidecar
	cart     = workload{"cart", "shop", "cart", "v1", "cart", nil}
	waypoint = workload{"waypoint", "shop", "waypoint", "", "waypoint", []string{"waypoint-7d9c6f5b4-zq8wm"}}
	legacyA  = workload{"a-v1", "legacy", "a", "v1", "default", []string{"a-v1-85f7c6d9b-abcde"}}
	legacyB  = workload{"b-v1", "legacy", "b", "v1", "default", []string{"b-v1-6d5c4b3a2-fghij"}}
	unknown  = workload{"unknown", "unknown", "unknown", "unknown", "", nil}

	// ztunnel, the ambient node proxy: one pod per node, reporting L4
	// series for the ambient pods on its node (reporter "source" for their
	// outbound connections, "destination" for their inbound ones), scraped
	// as a pod labelled app=ztunnel in istio-system.
	ztunnel = workload{"ztunnel", "istio-system", "ztunnel", "", "ztunnel", []string{"ztunnel-4xk2p", "ztunnel-9qz7m"}}

	// ambient: front and api and store in ambient mode, api's Service behind
	// waypoint wp (for service traffic).
	ambFront = workload{"front", "ambient", "front", "v1", "front", nil}
	ambAPI   = workload{"api", "ambient", "api", "v1", "api", nil}
	ambStore = workload{"store", "ambient", "store", "v1", "store", nil}
	ambWP    = workload{"wp", "ambient", "wp", "", "wp", []string{"wp-6c9f7d8b5-r2x4t"}}
	// mixed: web and pay with sidecars, cart in ambient mode.
	mixWeb  = workload{"web", "mixed", "web", "v1", "web", []string{"web-5d8c7b6a9-k3m2n"}}
	mixCart = workload{"cart", "mixed", "cart", "v1", "cart", nil}
	mixPay  = workload{"pay", "mixed", "pay", "v1", "pay", []string{"pay-7b6c5d4e3-p9q8r"}}
	// pods: db's pods use waypoint db-wp (for workload traffic) behind a
	// headless Service; the namespace uses ns-wp (for service traffic).
	podClient = workload{"client", "pods", "client", "v1", "client", nil}
	podDB     = workload{"db", "pods", "db", "v1", "db", nil}
	podAPI2   = workload{"api2", "pods", "api2", "v1", "api2", nil}
	podDBWP   = workload{"db-wp", "pods", "db-wp", "", "db-wp", []string{"db-wp-5f6d7c8b9-h7j6k"}}
	podNSWP   = workload{"ns-wp", "pods", "ns-wp", "", "ns-wp", []string{"ns-wp-8e7d6c5b4-w2v3u"}}
)

// report is what one reporter saw of an edge, summed over its pods (the
// rate is split evenly over the reporting workload's pods).
type report struct {
	reporter string
	// the reporting workload: the client for source, the server for
	// destination, the waypoint for waypoint.
	by       workload
	security string
	// per-second rates by response code (HTTP and gRPC)
	requests map[string]float64
	reqMean  float64 // mean request size in bytes
	respMean float64
	reqMsgs  float64 // gRPC messages per second
	respMsgs float64
	// TCP
	sent, received, opened float64
	// resetAgo, if set, is when the reporting proxy restarted, before the
	// end: its counters start again from zero.
	resetAgo time.Duration
	// stopAgo, if set, is when the traffic stopped, before the end.
	stopAgo time.Duration
}

type edge struct {
	src, dst workload
	service  string // destination service short name
	protocol string
	reports  []report
}

// The topology. Expected results (window 5m ending at the last sample):
//
//	productpage-v1 -> reviews-v1  http  10 rps (source; destination saw 9.8), 300/980 B, mutual_tls
//	productpage-v1 -> details-v1  http  10 rps, 250/420 B, mutual_tls (destination restarted 30m ago)
//	reviews-v2 -> ratings-v1      grpc   5 rps, 80/300 B, 5 and 15 messages/s, mutual_tls
//	istio-ingressgateway -> productpage-v1 (istio-system -> bookinfo)  http 20 rps, 600/5000 B, mutual_tls
//	unknown -> details-v1         http   2 rps (destination only), 150/420 B, none
//	ratings-v2 -> mongodb-v1 (bookinfo -> db)  tcp  4000 B/s sent, 1000 B/s received, 0.5 conn/s, mutual_tls
//	frontend -> cart (shop)       http   7 rps (waypoint only), 120/640 B, mutual_tls
//	a-v1 -> b-v1 (legacy)         http   3 rps, 100/200 B, mutual_tls
//	productpage-v1 -> reviews-v2  http   stopped 20m ago: no traffic in the window
//
// Ambient and mixed meshes (pkg/cmd/live_integration_test.go's scenarios),
// each call reported as Istio does, L7 by sidecars or a waypoint and L4 by
// the ztunnels:
//
//	ambient: front -> api    http 50 rps, 200/1500 B, through waypoint wp: wp reports it (L7);
//	                         the client's ztunnel reports front -> wp, the server's wp -> api (L4)
//	ambient: api -> store    tcp 8000 B/s sent, 2000 B/s received, 1 conn/s: both ztunnels (L4)
//	mixed:   web -> cart     http 20 rps, 300/900 B: web's sidecar (L7), cart's ztunnel (L4)
//	mixed:   cart -> pay     http 8 rps, 150/250 B: pay's sidecar (L7), cart's ztunnel (L4)
//	pods:    client -> db    http 12 rps, 100/700 B: waypoint db-wp (L7), client's ztunnel (L4)
//	pods:    client -> api2  http 6 rps, 90/400 B: waypoint ns-wp (L7)
var edges = []edge{{
	src: productpage, dst: reviewsV1, service: "reviews", protocol: "http",
	reports: []report{
		{reporter: "source", by: productpage, security: "unknown",
			requests: map[string]float64{"200": 9.5, "503": 0.5}, reqMean: 300, respMean: 980},
		{reporter: "destination", by: reviewsV1, security: "mutual_tls",
			requests: map[string]float64{"200": 9.5, "503": 0.3}, reqMean: 300, respMean: 980},
	},
}, {
	src: productpage, dst: details, service: "details", protocol: "http",
	reports: []report{
		{reporter: "source", by: productpage, security: "unknown",
			requests: map[string]float64{"200": 10}, reqMean: 250, respMean: 420},
		{reporter: "destination", by: details, security: "mutual_tls", resetAgo: 30 * time.Minute,
			requests: map[string]float64{"200": 10}, reqMean: 250, respMean: 420},
	},
}, {
	src: reviewsV2, dst: ratingsV1, service: "ratings", protocol: "grpc",
	reports: []report{
		{reporter: "source", by: reviewsV2, security: "unknown",
			requests: map[string]float64{"200": 5}, reqMean: 80, respMean: 300, reqMsgs: 5, respMsgs: 15},
		{reporter: "destination", by: ratingsV1, security: "mutual_tls",
			requests: map[string]float64{"200": 5}, reqMean: 80, respMean: 300, reqMsgs: 5, respMsgs: 15},
	},
}, {
	src: gateway, dst: productpage, service: "productpage", protocol: "http",
	reports: []report{
		{reporter: "source", by: gateway, security: "unknown",
			requests: map[string]float64{"200": 20}, reqMean: 600, respMean: 5000},
		{reporter: "destination", by: productpage, security: "mutual_tls",
			requests: map[string]float64{"200": 20}, reqMean: 600, respMean: 5000},
	},
}, {
	src: unknown, dst: details, service: "details", protocol: "http",
	reports: []report{
		{reporter: "destination", by: details, security: "none",
			requests: map[string]float64{"200": 2}, reqMean: 150, respMean: 420},
	},
}, {
	src: ratingsV2, dst: mongodb, service: "mongodb", protocol: "tcp",
	reports: []report{
		{reporter: "source", by: ratingsV2, security: "unknown", sent: 4000, received: 1000, opened: 0.5},
		{reporter: "destination", by: mongodb, security: "mutual_tls", sent: 4000, received: 1000, opened: 0.5},
	},
}, {
	src: frontend, dst: cart, service: "cart", protocol: "http",
	reports: []report{
		{reporter: "waypoint", by: waypoint, security: "mutual_tls",
			requests: map[string]float64{"200": 7}, reqMean: 120, respMean: 640},
	},
}, {
	src: legacyA, dst: legacyB, service: "b", protocol: "http",
	reports: []report{
		{reporter: "source", by: legacyA, security: "unknown",
			requests: map[string]float64{"200": 3}, reqMean: 100, respMean: 200},
	},
}, {
	src: productpage, dst: reviewsV2, service: "reviews", protocol: "http",
	reports: []report{
		{reporter: "source", by: productpage, security: "unknown", stopAgo: 20 * time.Minute,
			requests: map[string]float64{"200": 4}, reqMean: 300, respMean: 980},
	},
}, {
	src: ambFront, dst: ambAPI, service: "api", protocol: "http",
	reports: []report{{reporter: "waypoint", by: ambWP, security: "mutual_tls",
		requests: map[string]float64{"200": 50}, reqMean: 200, respMean: 1500}},
}, {
	src: ambFront, dst: ambWP, service: "api", protocol: "tcp",
	reports: []report{{reporter: "source", by: ztunnel, security: "mutual_tls", sent: 75000, received: 10000, opened: 0.5}},
}, {
	src: ambWP, dst: ambAPI, service: "api", protocol: "tcp",
	reports: []report{{reporter: "destination", by: ztunnel, security: "mutual_tls", sent: 75000, received: 10000, opened: 0.5}},
}, {
	src: ambAPI, dst: ambStore, service: "store", protocol: "tcp",
	reports: []report{
		{reporter: "source", by: ztunnel, security: "mutual_tls", sent: 8000, received: 2000, opened: 1},
		{reporter: "destination", by: ztunnel, security: "mutual_tls", sent: 8000, received: 2000, opened: 1},
	},
}, {
	src: mixWeb, dst: mixCart, service: "cart", protocol: "http",
	reports: []report{{reporter: "source", by: mixWeb, security: "unknown",
		requests: map[string]float64{"200": 20}, reqMean: 300, respMean: 900}},
}, {
	src: mixWeb, dst: mixCart, service: "cart", protocol: "tcp",
	reports: []report{{reporter: "destination", by: ztunnel, security: "mutual_tls", sent: 18000, received: 6000, opened: 0.2}},
}, {
	src: mixCart, dst: mixPay, service: "pay", protocol: "http",
	reports: []report{{reporter: "destination", by: mixPay, security: "mutual_tls",
		requests: map[string]float64{"200": 8}, reqMean: 150, respMean: 250}},
}, {
	src: mixCart, dst: mixPay, service: "pay", protocol: "tcp",
	reports: []report{{reporter: "source", by: ztunnel, security: "mutual_tls", sent: 2000, received: 1200, opened: 0.1}},
}, {
	src: podClient, dst: podDB, service: "db", protocol: "http",
	reports: []report{{reporter: "waypoint", by: podDBWP, security: "mutual_tls",
		requests: map[string]float64{"200": 12}, reqMean: 100, respMean: 700}},
}, {
	src: podClient, dst: podDB, service: "db", protocol: "tcp",
	reports: []report{{reporter: "source", by: ztunnel, security: "mutual_tls", sent: 8400, received: 1200, opened: 0.3}},
}, {
	src: podClient, dst: podAPI2, service: "api2", protocol: "http",
	reports: []report{{reporter: "waypoint", by: podNSWP, security: "mutual_tls",
		requests: map[string]float64{"200": 6}, reqMean: 90, respMean: 400}},
}}

// Istio's default buckets for istio_request_bytes and istio_response_bytes.
var sizeBuckets = []float64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000}

// series is one time series: a name, its labels and its value over time.
type series struct {
	name   string
	labels [][2]string
	// value at t seconds after the start
	value func(t float64) float64
}

func main() {
	end := flag.Int64("end", time.Now().Unix()/60*60, "Unix time of the last sample")
	duration := flag.Duration("duration", time.Hour, "how much history to write")
	step := flag.Duration("step", 15*time.Second, "scrape interval")
	flag.Parse()
	if *step <= 0 || *duration < *step {
		fmt.Fprintln(os.Stderr, "gen: want 0 < -step <= -duration")
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	if err := write(w, *end, *duration, *step); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "gen: writing:", err)
		os.Exit(1)
	}
}

// family is an OpenMetrics metric family and its series.
type family struct {
	name, typ, help string
	series          []series
	histogram       bool
}

func write(w *bufio.Writer, end int64, duration, step time.Duration) error {
	total := duration.Seconds()
	families := buildFamilies(total, float64(end))
	steps := int(duration / step)
	stepSec := step.Seconds()
	for _, f := range families {
		fmt.Fprintf(w, "# TYPE %s %s\n# HELP %s %s\n", f.name, f.typ, f.name, f.help)
		if f.histogram {
			writeHistograms(w, f, end, steps, stepSec, total)
			continue
		}
		for _, s := range f.series {
			lbl := labelText(s.labels)
			for i := 0; i <= steps; i++ {
				t := float64(i) * stepSec
				ts := end - int64(total) + int64(t)
				fmt.Fprintf(w, "%s%s %s %d\n", s.name, lbl, num(s.value(t)), ts)
			}
		}
	}
	_, err := w.WriteString("# EOF\n")
	return err
}

// writeHistograms writes each histogram series as one MetricPoint per step:
// every bucket, then _count and _sum, all at one timestamp. Series come in
// pairs from buildFamilies, count then sum; their ratio, the mean, picks
// the one bucket that all observations fall into.
func writeHistograms(w *bufio.Writer, f family, end int64, steps int, stepSec, total float64) {
	for i := 0; i+1 < len(f.series); i += 2 {
		count, sum := f.series[i], f.series[i+1]
		lbl := count.labels
		for s := 0; s <= steps; s++ {
			t := float64(s) * stepSec
			ts := end - int64(total) + int64(t)
			n, v := count.value(t), sum.value(t)
			mean := 0.0
			if n > 0 {
				mean = v / n
			}
			for _, le := range sizeBuckets {
				in := 0.0
				if mean <= le {
					in = n // all observations near the mean: one bucket
				}
				fmt.Fprintf(w, "%s_bucket%s %s %d\n", f.name, labelText(append(append([][2]string{}, lbl...), [2]string{"le", num(le)})), num(in), ts)
			}
			fmt.Fprintf(w, "%s_bucket%s %s %d\n", f.name, labelText(append(append([][2]string{}, lbl...), [2]string{"le", "+Inf"})), num(n), ts)
			fmt.Fprintf(w, "%s_count%s %s %d\n", f.name, labelText(lbl), num(n), ts)
			fmt.Fprintf(w, "%s_sum%s %s %d\n", f.name, labelText(lbl), num(v), ts)
		}
	}
}

// counter returns a counter growing at perSec from a long-running value,
// restarting from zero resetAgo before the end and flat from stopAgo before
// the end.
func counter(perSec, total float64, r report) func(float64) float64 {
	const uptime = 86400 // the proxies ran a day before the data starts
	reset := total - r.resetAgo.Seconds()
	stop := total - r.stopAgo.Seconds()
	return func(t float64) float64 {
		if r.stopAgo > 0 && t > stop {
			t = stop
		}
		if r.resetAgo > 0 && t >= reset {
			return perSec * (t - reset)
		}
		return perSec * (uptime + t)
	}
}

func buildFamilies(total, end float64) []family {
	fams := map[string]*family{}
	get := func(name, typ, help string, hist bool) *family {
		if f := fams[name]; f != nil {
			return f
		}
		f := &family{name: name, typ: typ, help: help, histogram: hist}
		fams[name] = f
		return f
	}
	for _, e := range edges {
		for _, r := range e.reports {
			pods := r.by.pods
			share := 1 / float64(len(pods))
			for _, pod := range pods {
				base := istioLabels(e, r, pod)
				if e.protocol == "tcp" {
					for _, m := range []struct {
						name, help string
						rate       float64
					}{
						{"istio_tcp_sent_bytes", "Total bytes sent in response to a TCP connection.", r.sent},
						{"istio_tcp_received_bytes", "Total bytes received in requests of a TCP connection.", r.received},
						{"istio_tcp_connections_opened", "Total TCP connections opened.", r.opened},
						{"istio_tcp_connections_closed", "Total TCP connections closed.", r.opened},
					} {
						f := get(m.name, "counter", m.help, false)
						f.series = append(f.series, series{m.name + "_total", base, counter(m.rate*share, total, r)})
					}
					continue
				}
				codes := make([]string, 0, len(r.requests))
				for c := range r.requests {
					codes = append(codes, c)
				}
				sort.Strings(codes)
				for _, code := range codes {
					rps := r.requests[code] * share
					lbl := append(append([][2]string{}, base...), [2]string{"response_code", code})
					grpcStatus := ""
					if e.protocol == "grpc" {
						grpcStatus = "0"
					}
					lbl = append(lbl, [2]string{"grpc_response_status", grpcStatus}, [2]string{"response_flags", "-"})
					f := get("istio_requests", "counter", "Total requests.", false)
					f.series = append(f.series, series{"istio_requests_total", lbl, counter(rps, total, r)})
					f = get("istio_request_bytes", "histogram", "Request sizes in bytes.", true)
					f.series = append(f.series, series{"", lbl, counter(rps, total, r)}, series{"", lbl, counter(rps*r.reqMean, total, r)})
					f = get("istio_response_bytes", "histogram", "Response sizes in bytes.", true)
					f.series = append(f.series, series{"", lbl, counter(rps, total, r)}, series{"", lbl, counter(rps*r.respMean, total, r)})
					if e.protocol == "grpc" {
						f = get("istio_request_messages", "counter", "Total gRPC request messages.", false)
						f.series = append(f.series, series{"istio_request_messages_total", lbl, counter(r.reqMsgs*share*r.requests[code]/sumRates(r.requests), total, r)})
						f = get("istio_response_messages", "counter", "Total gRPC response messages.", false)
						f.series = append(f.series, series{"istio_response_messages_total", lbl, counter(r.respMsgs*share*r.requests[code]/sumRates(r.requests), total, r)})
					}
				}
			}
		}
	}
	// A marker that says where the data ends, so that a test can find the
	// evaluation time without being told.
	marker := get("meshinsight_testdata_end_timestamp_seconds", "gauge", "Unix time of the last generated sample.", false)
	marker.series = append(marker.series, series{"meshinsight_testdata_end_timestamp_seconds", nil, func(float64) float64 { return end }})

	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]family, 0, len(names))
	for _, n := range names {
		out = append(out, *fams[n])
	}
	return out
}

func sumRates(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

// istioLabels are the labels Envoy's stats filter sets, plus the target
// labels the scrape adds.
func istioLabels(e edge, r report, pod string) [][2]string {
	peer := func(prefix string, w workload) [][2]string {
		principal := "unknown"
		if w.serviceAccount != "" {
			principal = fmt.Sprintf("spiffe://cluster.local/ns/%s/sa/%s", w.namespace, w.serviceAccount)
		}
		return [][2]string{
			{prefix + "_workload", w.name}, {prefix + "_workload_namespace", w.namespace},
			{prefix + "_canonical_service", w.app}, {prefix + "_canonical_revision", w.version},
			{prefix + "_principal", principal}, {prefix + "_app", w.app}, {prefix + "_version", w.version},
			{prefix + "_cluster", "Kubernetes"},
		}
	}
	l := [][2]string{{"reporter", r.reporter}}
	l = append(l, peer("source", e.src)...)
	l = append(l, peer("destination", e.dst)...)
	l = append(l,
		[2]string{"destination_service", e.service + "." + e.dst.namespace + ".svc.cluster.local"},
		[2]string{"destination_service_name", e.service},
		[2]string{"destination_service_namespace", e.dst.namespace},
		[2]string{"request_protocol", e.protocol},
		[2]string{"connection_security_policy", r.security},
		[2]string{"instance", podIP(pod) + ":15020"},
		[2]string{"job", "kubernetes-pods"},
		[2]string{"namespace", r.by.namespace},
		[2]string{"pod", pod},
	)
	if r.by.name == ztunnel.name {
		// Istio's scrape config copies pod labels: ztunnel's series carry
		// its app label, which is how dashboards tell L4 reports apart.
		l = append(l, [2]string{"app", "ztunnel"})
	}
	return l
}

// podIP makes up a stable pod IP for the instance label.
func podIP(pod string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(pod); i++ {
		h = (h ^ uint32(pod[i])) * 16777619
	}
	return fmt.Sprintf("10.244.%d.%d", h>>8&0xff, h&0xfe+1)
}

func labelText(l [][2]string) string {
	if len(l) == 0 {
		return ""
	}
	parts := make([]string, len(l))
	for i, kv := range l {
		parts[i] = kv[0] + "=" + strconv.Quote(kv[1])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
