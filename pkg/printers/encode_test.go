package printers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
)

// longReport has many edges, ingress, names and messages long enough for
// yaml to fold them at every depth, and characters JSON escapes.
func longReport(edges int) *predict.Report {
	r := whatIfReport()
	long := strings.Repeat("a rather long message about <assumptions> & defaults ", 4)
	for i := range edges {
		e := r.Baseline.Edges[i%len(r.Baseline.Edges)]
		e.From = fmt.Sprintf("shop/caller-%d-%s", i, strings.Repeat("x", i%90))
		e.TopComponent = long[:i%len(long)]
		r.Baseline.Edges = append(r.Baseline.Edges, e)
		r.Variant.Edges = append(r.Variant.Edges, e)
	}
	in := r.Baseline.Edges[0]
	in.From = "shop/(outside)"
	r.Baseline.Ingress = []predict.EdgeResult{in}
	r.Variant.Ingress = []predict.EdgeResult{in}
	r.Messages = append(r.Messages, diag.New(diag.DefaultUsed, strings.Repeat("s", 70), "%s", long))
	r.Graph = long
	return r
}

// The streaming encoders write what encoding/json and sigs.k8s.io/yaml
// write for the whole report, byte for byte.
func TestStreamingEncodersMatchTheLibraries(t *testing.T) {
	for name, r := range map[string]*predict.Report{"baseline": baselineReport(), "whatif": whatIfReport(), "long": longReport(200)} {
		t.Run(name, func(t *testing.T) {
			wantJSON, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := Print(&got, r, JSON); err != nil {
				t.Fatal(err)
			}
			if got.String() != string(wantJSON)+"\n" {
				t.Errorf("JSON differs from json.MarshalIndent:\n%s", firstDifference(got.String(), string(wantJSON)+"\n"))
			}
			wantYAML, err := sigsyaml.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			got.Reset()
			if err := Print(&got, r, YAML); err != nil {
				t.Fatal(err)
			}
			if got.String() != string(wantYAML) {
				t.Errorf("YAML differs from sigsyaml.Marshal:\n%s", firstDifference(got.String(), string(wantYAML)))
			}
		})
	}
}

func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d:\n got  %q\n want %q", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(g), len(w))
}

// largestWrite records the largest single write.
type largestWrite struct{ n, total int }

func (l *largestWrite) Write(p []byte) (int, error) {
	l.n, l.total = max(l.n, len(p)), l.total+len(p)
	return len(p), nil
}

// Issue #13 item 10: reports are written as they are encoded, in pieces
// of the write buffer, never built whole in memory first.
func TestPrintStreams(t *testing.T) {
	r := longReport(5000)
	for _, f := range Formats {
		w := &largestWrite{}
		if err := Print(w, r, f); err != nil {
			t.Fatal(err)
		}
		if w.total <= writeBuffer || w.n > writeBuffer {
			t.Errorf("%s: %d bytes written, largest write %d bytes, want pieces of at most %d", f, w.total, w.n, writeBuffer)
		}
	}
}

// Issue #13 item 8: a report with an impossible figure is an error, and
// nothing is written.
func TestPrintRefusesImpossibleFigures(t *testing.T) {
	for _, f := range Formats {
		r := baselineReport()
		r.Baseline.Edges[1].CPUMillicores = math.Inf(1)
		var buf bytes.Buffer
		err := Print(&buf, r, f)
		if err == nil || !strings.Contains(err.Error(), "edge shop/cart->shop/redis: cpuMillicores is +Inf") || buf.Len() > 0 {
			t.Errorf("%s: err = %v, wrote %d bytes", f, err, buf.Len())
		}
	}
	var buf bytes.Buffer
	if err := Print(&buf, baselineReport(), JSON); err != nil {
		t.Fatal(err)
	}
	if err := Print(io.Discard, baselineReport(), YAML); err != nil {
		t.Fatal(err)
	}
}
