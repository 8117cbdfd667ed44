package loadgen

import (
	"errors"
	"fmt"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry: latencies in microseconds from 1 µs to 60 s with 3
// significant digits (values outside are clamped to the range).
const (
	HistogramMinMicros = 1
	HistogramMaxMicros = 60_000_000
	HistogramDigits    = 3
)

// Result is what one load run measured in its window (warm-up excluded).
type Result struct {
	// Protocol, Target and RatePerSecond repeat the run's configuration.
	Protocol      Protocol `json:"protocol"`
	Target        string   `json:"target"`
	RatePerSecond float64  `json:"ratePerSecond"`

	// Sent counts requests sent in the window; Completed and Errors split them.
	Sent      int `json:"sent"`
	Completed int `json:"completed"`
	Errors    int `json:"errors"`
	// Dropped counts open-loop requests due in the window that were never sent
	// because the schedule was still behind Timeout after the window ended. When
	// non-zero, the percentiles understate latency.
	Dropped int `json:"dropped"`
	// Probes counts readiness requests sent through the target before the
	// window: one per connection when they were opened (the first run of a
	// Session, every Run), none on later runs of a session. They crossed
	// the target too, so per-request costs count them.
	Probes int `json:"probes,omitempty"`
	// Late counts open-loop requests that no worker was free to send until more
	// than 1 ms after their due time because earlier requests were still
	// outstanding: the target fell behind (or Connections is too small for the
	// rate). The generator's own lateness is not counted (see SendLagP99).
	Late int `json:"late"`
	// FirstError is the first request error, for diagnosis.
	FirstError string `json:"firstError,omitempty"`

	// Elapsed is the window length, extended to the last send when sending fell
	// behind past the window, or cut to the last completion when a request limit
	// ended the run early.
	Elapsed time.Duration `json:"elapsedNanos"`
	// AchievedRate is Completed / Elapsed in requests per second.
	AchievedRate float64 `json:"achievedRate"`

	// P50 … Max and Mean are latencies of completed requests measured from their
	// intended send time (open loop; see [Run] for what is not charged) or send
	// time (closed loop).
	P50  time.Duration `json:"p50Nanos"`
	P90  time.Duration `json:"p90Nanos"`
	P99  time.Duration `json:"p99Nanos"`
	P999 time.Duration `json:"p999Nanos"`
	Max  time.Duration `json:"maxNanos"`
	Mean time.Duration `json:"meanNanos"`

	// ServiceP50, ServiceP99 and ServiceMax are measured from the actual send time:
	// what a naive generator would report. A large gap to P99 means the target
	// stalled and requests queued behind it.
	ServiceP50 time.Duration `json:"serviceP50Nanos"`
	ServiceP99 time.Duration `json:"serviceP99Nanos"`
	ServiceMax time.Duration `json:"serviceMaxNanos"`
	// SendLagP99 and SendLagMax are how late requests left relative to their due
	// time (open loop only), including the generator's timer wake-up.
	SendLagP99 time.Duration `json:"sendLagP99Nanos"`
	SendLagMax time.Duration `json:"sendLagMaxNanos"`

	// Histogram is the latency histogram (µs, the geometry above) in the
	// HdrHistogram V2 compressed base64 encoding, so results of several runs or
	// pods can be merged (see [Merge]) and read by other HdrHistogram tools.
	Histogram string `json:"histogram"`
	// ServiceHistogram is the same for latency from the actual send time.
	ServiceHistogram string `json:"serviceHistogram"`
}

// hist is a latency histogram in microseconds.
type hist struct{ h *hdrhistogram.Histogram }

func newHist() hist {
	return hist{hdrhistogram.New(HistogramMinMicros, HistogramMaxMicros, HistogramDigits)}
}

// record adds d, clamped to the histogram's range.
func (h hist) record(d time.Duration) {
	us := min(max(d.Microseconds(), HistogramMinMicros), HistogramMaxMicros)
	_ = h.h.RecordValue(us) // cannot fail: us is within range
}

type histograms struct{ latency, service, lag hist }

func newHistograms() histograms {
	return histograms{latency: newHist(), service: newHist(), lag: newHist()}
}

func micros(v int64) time.Duration { return time.Duration(v) * time.Microsecond }

// setHistograms fills the percentiles and encoded histograms of res.
func (res *Result) setHistograms(h histograms) error {
	res.setLatency(h.latency.h)
	if h.service.h.TotalCount() > 0 {
		res.ServiceP50 = micros(h.service.h.ValueAtQuantile(50))
		res.ServiceP99 = micros(h.service.h.ValueAtQuantile(99))
		res.ServiceMax = micros(h.service.h.Max())
	}
	if h.lag.h.TotalCount() > 0 {
		res.SendLagP99 = micros(h.lag.h.ValueAtQuantile(99))
		res.SendLagMax = micros(h.lag.h.Max())
	}
	var err error
	if res.Histogram, err = encode(h.latency.h); err != nil {
		return err
	}
	if res.ServiceHistogram, err = encode(h.service.h); err != nil {
		return err
	}
	return nil
}

func (res *Result) setLatency(h *hdrhistogram.Histogram) {
	if h.TotalCount() == 0 {
		return
	}
	res.P50 = micros(h.ValueAtQuantile(50))
	res.P90 = micros(h.ValueAtQuantile(90))
	res.P99 = micros(h.ValueAtQuantile(99))
	res.P999 = micros(h.ValueAtQuantile(99.9))
	res.Max = micros(h.Max())
	res.Mean = time.Duration(h.Mean() * float64(time.Microsecond))
}

func encode(h *hdrhistogram.Histogram) (string, error) {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", fmt.Errorf("encoding latency histogram: %w", err)
	}
	return string(b), nil
}

// DecodeHistogram decodes a histogram of a [Result] (values in µs).
func DecodeHistogram(encoded string) (*hdrhistogram.Histogram, error) {
	if encoded == "" {
		return nil, errors.New("decoding latency histogram: empty")
	}
	h, err := hdrhistogram.Decode([]byte(encoded))
	if err != nil {
		return nil, fmt.Errorf("decoding latency histogram: %w", err)
	}
	return h, nil
}

// LatencyHistogram decodes res.Histogram (values in µs).
func (res *Result) LatencyHistogram() (*hdrhistogram.Histogram, error) {
	return DecodeHistogram(res.Histogram)
}

// Merge combines results of runs against the same kind of target, taken one after
// another or side by side: counts add up, histograms merge and percentiles are
// recomputed from the merged histogram. AchievedRate is total Completed over the
// summed Elapsed, i.e. the mean rate of sequential runs; for concurrent generators
// sum their AchievedRate instead. Send-lag figures are the maxima of the inputs.
func Merge(results ...*Result) (*Result, error) {
	if len(results) == 0 {
		return nil, errors.New("merging results: none given")
	}
	out := &Result{Protocol: results[0].Protocol, Target: results[0].Target, RatePerSecond: results[0].RatePerSecond}
	latency, service := newHist().h, newHist().h
	for i, r := range results {
		if r == nil {
			return nil, fmt.Errorf("merging results: result %d is nil", i)
		}
		out.Sent += r.Sent
		out.Completed += r.Completed
		out.Errors += r.Errors
		out.Dropped += r.Dropped
		out.Late += r.Late
		out.Elapsed += r.Elapsed
		if out.FirstError == "" {
			out.FirstError = r.FirstError
		}
		out.SendLagP99 = max(out.SendLagP99, r.SendLagP99)
		out.SendLagMax = max(out.SendLagMax, r.SendLagMax)
		for _, pair := range []struct {
			into    *hdrhistogram.Histogram
			encoded string
		}{{latency, r.Histogram}, {service, r.ServiceHistogram}} {
			h, err := DecodeHistogram(pair.encoded)
			if err != nil {
				return nil, fmt.Errorf("merging result %d: %w", i, err)
			}
			pair.into.Merge(h)
		}
	}
	if out.Elapsed > 0 {
		out.AchievedRate = float64(out.Completed) / out.Elapsed.Seconds()
	}
	out.setLatency(latency)
	if service.TotalCount() > 0 {
		out.ServiceP50 = micros(service.ValueAtQuantile(50))
		out.ServiceP99 = micros(service.ValueAtQuantile(99))
		out.ServiceMax = micros(service.Max())
	}
	var err error
	if out.Histogram, err = encode(latency); err != nil {
		return nil, err
	}
	if out.ServiceHistogram, err = encode(service); err != nil {
		return nil, err
	}
	return out, nil
}
