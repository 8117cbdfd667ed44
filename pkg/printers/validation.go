package printers

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/accuracy/experiment"
	"github.com/meshinsight/kubectl-meshinsight/pkg/spread"
)

// PrintValidation writes a validation report as tables, one per entry rate,
// then the error summary. Nothing is written if it cannot be rendered.
func PrintValidation(w io.Writer, r *experiment.Report) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "meshinsight validation: profile %s (%s)\n", r.ProfileName, r.ProfilePath)
	if r.Chain != "" {
		fmt.Fprintf(&buf, "chain %s: %s\n", r.Chain, r.Setup)
	}
	first := min(1, len(r.LoadAverage))
	fmt.Fprintf(&buf, "%d interleaved mesh/bypass rounds of %gs per rate; load average %s at start, %s at end\n",
		r.Rounds, r.RunSeconds, strings.Join(r.LoadAverage[:first], ""), strings.Join(r.LoadAverage[first:], ""))
	if line := busyShare("node CPUs busy while the profile's cells were measured", r.ProfileNodeBusy); line != "" {
		fmt.Fprintln(&buf, line)
	}
	fmt.Fprintln(&buf, "measured: median [min, max] over rounds; error = (predicted − measured median) / |measured median|")
	for _, rr := range r.Rates {
		if err := validationRate(&buf, r.Topology.Entry, rr); err != nil {
			return err
		}
	}
	validationSummary(&buf, r)
	_, err := w.Write(buf.Bytes())
	return err
}

// validationRate writes one entry rate's load, rows and notes.
func validationRate(buf *bytes.Buffer, entry string, rr experiment.RateResult) error {
	fmt.Fprintf(buf, "\n== %g req/s at %s ==\n", rr.RatePerSecond, entry)
	if len(rr.Rounds) > 0 {
		var mesh, bypass []float64
		late, errs := 0, 0
		for _, rd := range rr.Rounds {
			mesh = append(mesh, rd.Mesh.AchievedRate)
			bypass = append(bypass, rd.Bypass.AchievedRate)
			late += rd.Mesh.Late + rd.Bypass.Late
			errs += rd.Mesh.Errors + rd.Bypass.Errors
		}
		fmt.Fprintf(buf, "achieved %.0f req/s mesh, %.0f bypass; %d late and %d failed requests; proxies idle during bypass runs: %.1f mcores%s\n",
			spread.Of(mesh).Median, spread.Of(bypass).Median, late, errs, rr.IdleProxyMillicores, busyShare("; node CPUs busy during mesh runs", rr.MeshNodeBusy))
	}
	t := &table{gap: 2}
	t.header("KIND", "NAME", "METRIC", "MEASURED", "PREDICTED", "ERROR", "IN SPREAD", "IN RANGE", "NOTE")
	for _, row := range rr.Rows {
		t.row(row.Kind, row.Name, row.Metric+" "+row.Unit, measured(row.Measured), predicted(row),
			signedPercent(row.RelError), yesNo(row.Inside), inRange(row), row.Note)
	}
	if err := t.render(buf); err != nil {
		return err
	}
	fmt.Fprintf(buf, "reproduce the prediction: %s\n", rr.Command)
	for _, n := range rr.Notes {
		fmt.Fprintf(buf, "  note: %s\n", n)
	}
	return nil
}

// validationSummary writes the error statistics over every rate.
func validationSummary(buf *bytes.Buffer, r *experiment.Report) {
	s := r.Summary
	fmt.Fprintf(buf, "\nsummary over %d rates:\n", len(r.Rates))
	for _, l := range []struct {
		name string
		st   experiment.ErrorStats
	}{
		{"latency, edges and end to end, p50 and p99", s.Latency},
		{"latency p50", s.LatencyP50},
		{"latency p99", s.LatencyP99},
	} {
		fmt.Fprintf(buf, "  %s: %d rows, %d inside the measured spread, %s; |error| median %.0f µs (%s), max %.0f µs (%s)\n",
			l.name, l.st.Rows, l.st.Inside, inRangeCount(l.st), l.st.MedianAbs, wholePercent(l.st.MedianRel), l.st.MaxAbs, wholePercent(l.st.MaxRel))
	}
	fmt.Fprintf(buf, "  CPU per proxy: %d rows, %d inside the measured spread, %s; |error| median %.1f mcores (%s), max %.1f mcores (%s)\n",
		s.CPU.Rows, s.CPU.Inside, inRangeCount(s.CPU), s.CPU.MedianAbs, wholePercent(s.CPU.MedianRel), s.CPU.MaxAbs, wholePercent(s.CPU.MaxRel))
	if w := r.SummaryWithoutQueueing; w != nil {
		fmt.Fprintf(buf, "  without the queueing term: latency p99 %d of %d inside the measured spread, |error| median %s, max %s; p50 |error| median %s\n",
			w.LatencyP99.Inside, w.LatencyP99.Rows, wholePercent(w.LatencyP99.MedianRel), wholePercent(w.LatencyP99.MaxRel), wholePercent(w.LatencyP50.MedianRel))
	}
	fmt.Fprintf(buf, "  run time %v\n", r.Elapsed.Round(time.Second))
}

// measured renders a measured figure as "median [min, max]", one decimal in
// the row's unit; "n/a" without measurements.
func measured(f spread.Figure) string {
	if f.N == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f [%.1f, %.1f]", f.Median, f.Min, f.Max)
}

// predicted renders a prediction with its range, "12.3 [10.1, 15.0]".
func predicted(r experiment.Row) string {
	if r.Range == nil {
		return fmt.Sprintf("%.1f", r.Predict)
	}
	return fmt.Sprintf("%.1f [%.1f, %.1f]", r.Predict, r.Range.Low, r.Range.High)
}

// inRange says whether the measured median lies in the predicted range,
// "-" without one.
func inRange(r experiment.Row) string {
	if r.Range == nil {
		return "-"
	}
	return yesNo(r.InRange)
}

// inRangeCount summarises how many measured medians lay in their predicted
// ranges.
func inRangeCount(st experiment.ErrorStats) string {
	if st.Ranged == 0 {
		return "no predicted ranges"
	}
	return fmt.Sprintf("%d of %d inside the predicted range", st.InRange, st.Ranged)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// busyShare renders a node's busy share after label, or nothing when it was
// not measured.
func busyShare(label string, share *float64) string {
	if share == nil {
		return ""
	}
	return fmt.Sprintf("%s: %.0f%%", label, 100**share)
}
