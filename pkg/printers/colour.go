package printers

import "github.com/meshinsight/kubectl-meshinsight/pkg/predict"

// pictured are the edges a picture (dot, svg) draws, shown (the variant's
// when there is one, labelled with the delta to base, the baseline's; Print
// has checked that they line up) and the baseline's, ingress included.
func pictured(r *predict.Report) (base, shown []predict.EdgeResult) {
	base = edgesOf(&r.Baseline)
	if r.Variant == nil {
		return base, base
	}
	return base, edgesOf(r.Variant)
}

// latencyBand is one colour of the graph outputs (dot, svg, html): edges
// whose added p50 is below below (µs) and not in an earlier band.
type latencyBand struct {
	below  float64
	colour string
}

// latencyBands colour an edge by its added p50 latency per call, in absolute
// terms so that a picture means the same whatever else is in the graph:
// below 100 µs green, below 500 µs orange, from 500 µs up red. They are
// display thresholds chosen for legibility, not constants of the model, and
// are documented in README.md.
var latencyBands = []latencyBand{
	{below: 100, colour: "forestgreen"},
	{below: 500, colour: "darkorange"},
	{below: 0, colour: "firebrick"}, // the rest
}

// label describes the band for a legend: "< 100µs", "100µs – 500µs", "≥ 500µs".
func (b latencyBand) label() string {
	for i, o := range latencyBands {
		if o != b {
			continue
		}
		switch {
		case i == 0:
			return "< " + micros(b.below)
		case i == len(latencyBands)-1:
			return "≥ " + micros(latencyBands[i-1].below)
		default:
			return micros(latencyBands[i-1].below) + " – " + micros(b.below)
		}
	}
	return ""
}

// latencyColour is the colour of the band an added p50 (µs) falls in.
func latencyColour(p50 float64) string {
	for _, b := range latencyBands[:len(latencyBands)-1] {
		if p50 < b.below {
			return b.colour
		}
	}
	return latencyBands[len(latencyBands)-1].colour
}
