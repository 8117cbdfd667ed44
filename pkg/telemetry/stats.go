package telemetry

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// statsFamily says how to read one metric family of a sidecar's stats text.
type statsFamily struct {
	counter  metric // for counters (and untyped series named like counters)
	sum, cnt metric // for histograms
	isHist   bool
}

// statsFamilies maps the family names in Envoy's Prometheus output to our
// metrics. Histograms appear as one family in the text format; if a proxy
// declares no types, their _sum and _count come as untyped families.
var statsFamilies = map[string]statsFamily{
	"istio_requests_total":               {counter: requests},
	"istio_request_bytes":                {isHist: true, sum: requestBytesSum, cnt: requestBytesCount},
	"istio_response_bytes":               {isHist: true, sum: responseBytesSum, cnt: responseBytesCount},
	"istio_request_bytes_sum":            {counter: requestBytesSum},
	"istio_request_bytes_count":          {counter: requestBytesCount},
	"istio_response_bytes_sum":           {counter: responseBytesSum},
	"istio_response_bytes_count":         {counter: responseBytesCount},
	"istio_request_messages_total":       {counter: requestMessages},
	"istio_response_messages_total":      {counter: responseMessages},
	"istio_tcp_sent_bytes_total":         {counter: tcpSentBytes},
	"istio_tcp_received_bytes_total":     {counter: tcpReceivedBytes},
	"istio_tcp_connections_opened_total": {counter: tcpConnectionsOpened},
}

// statsPoint is the value of one series in one scrape.
type statsPoint struct {
	metric metric
	labels map[string]string // the group labels only
	value  float64
}

// statsSnapshot is one scrape of one sidecar: Istio's series by identity.
type statsSnapshot struct {
	at     time.Time
	series map[string]statsPoint
}

// parseStats reads Istio's series from a sidecar's stats in the Prometheus
// text format. Series with impossible values are skipped and described in
// problems; a text that cannot be parsed at all is an error.
func parseStats(text []byte) (series map[string]statsPoint, problems []string, err error) {
	defer func() {
		// The parser is not ours; never let malformed input take the
		// whole command down.
		if r := recover(); r != nil {
			series, problems, err = nil, nil, fmt.Errorf("parsing stats: parser panicked: %v", r)
		}
	}()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, nil, fmt.Errorf("parsing stats: %w", err)
	}
	series = map[string]statsPoint{}
	names := make([]string, 0, len(families))
	for name := range families {
		names = append(names, name)
	}
	sort.Strings(names) // stable problem order
	for _, name := range names {
		how, ok := statsFamilies[name]
		if !ok {
			continue
		}
		for _, m := range families[name].GetMetric() {
			add := func(which metric, v float64, ok bool) {
				if !ok {
					problems = append(problems, fmt.Sprintf("%s{%s} has no value of the expected type", name, labelString(m)))
					return
				}
				if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
					problems = append(problems, fmt.Sprintf("%s{%s} has the impossible value %v", name, labelString(m), v))
					return
				}
				id := seriesName[which] + "{" + labelString(m) + "}"
				series[id] = statsPoint{metric: which, labels: groupLabelValues(m), value: v}
			}
			if how.isHist {
				h := m.GetHistogram()
				add(how.sum, h.GetSampleSum(), h != nil)
				add(how.cnt, float64(h.GetSampleCount()), h != nil)
				continue
			}
			v, ok := counterValue(m)
			add(how.counter, v, ok)
		}
	}
	return series, problems, nil
}

// counterValue reads a counter, accepting the untyped and gauge forms that
// some exporters emit for counters.
func counterValue(m *dto.Metric) (float64, bool) {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue(), true
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue(), true
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

// labelString renders all labels of a series, sorted, as its identity.
func labelString(m *dto.Metric) string {
	pairs := make([]string, 0, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		pairs = append(pairs, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

// groupLabelValues keeps the labels that identify an edge and its reporter.
func groupLabelValues(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(groupLabels))
	for _, l := range m.GetLabel() {
		for _, g := range groupLabels {
			if l.GetName() == g {
				out[g] = l.GetValue()
			}
		}
	}
	return out
}

// statsRates turns two scrapes of one sidecar into per-second rates. A
// series missing from the first scrape started during the interval and
// counts from zero; a series that went backwards was reset (the proxy
// restarted) and counts from the reset, as Prometheus' rate() does. resets
// counts those.
func statsRates(before, after statsSnapshot) (samples []sample, resets int, err error) {
	elapsed := after.at.Sub(before.at).Seconds()
	if elapsed <= 0 {
		return nil, 0, fmt.Errorf("scrapes are %v apart: want the second after the first", after.at.Sub(before.at))
	}
	ids := make([]string, 0, len(after.series))
	for id := range after.series {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		p := after.series[id]
		delta := p.value
		if prev, ok := before.series[id]; ok {
			delta = p.value - prev.value
			if delta < 0 {
				resets++
				delta = p.value
			}
		}
		labels := p.labels
		samples = append(samples, sampleFromLabels(p.metric, func(name string) string { return labels[name] }, delta/elapsed))
	}
	return samples, resets, nil
}
