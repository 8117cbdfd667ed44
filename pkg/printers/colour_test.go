package printers

import "testing"

func TestLatencyColourAbsolute(t *testing.T) {
	for p50, want := range map[float64]string{0: "forestgreen", 99.9: "forestgreen", 100: "darkorange", 212: "darkorange", 499: "darkorange", 500: "firebrick", 48000: "firebrick"} {
		if got := latencyColour(p50); got != want {
			t.Errorf("latencyColour(%v) = %s, want %s", p50, got, want)
		}
	}
	var labels []string
	for _, b := range latencyBands {
		labels = append(labels, b.label())
	}
	if got := labels[0] + "|" + labels[1] + "|" + labels[2]; got != "< 100µs|100µs – 500µs|≥ 500µs" {
		t.Errorf("legend labels %s", got)
	}
}
