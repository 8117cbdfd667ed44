package printers

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/accuracy/experiment"
)

// validationReport is a two-rate report of the default topology with
// synthetic rounds (testdata/validation.json).
func validationReport(t *testing.T) *experiment.Report {
	t.Helper()
	data, err := os.ReadFile("testdata/validation.json")
	if err != nil {
		t.Fatal(err)
	}
	var r experiment.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestPrintValidationGolden(t *testing.T) {
	r := validationReport(t)
	checkGolden(t, "validation.table", func(w io.Writer) error { return PrintValidation(w, r) })
}

func TestPrintValidationEdgeCases(t *testing.T) {
	r := validationReport(t)
	rr := &r.Rates[0]
	rr.Rounds = nil
	rr.Rows[0].Measured.N = 0
	rr.Rows[1].RelError = math.NaN()
	r.LoadAverage = nil
	var buf bytes.Buffer
	if err := PrintValidation(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(out, "\n")
	// No rounds: no "achieved" line; no measurement and no relative error: n/a.
	if !strings.HasPrefix(lines[5], "KIND ") || !strings.Contains(lines[6], " n/a ") || !strings.Contains(lines[7], " n/a ") ||
		!strings.Contains(lines[1], "load average  at start,  at end") {
		t.Errorf("output:\n%s", out)
	}
}

func TestPrintValidationShowsHowBusyTheNodeWas(t *testing.T) {
	r := validationReport(t)
	profileBusy, meshBusy := 0.412, 0.287
	r.ProfileNodeBusy, r.Rates[0].MeshNodeBusy = &profileBusy, &meshBusy
	var buf bytes.Buffer
	if err := PrintValidation(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"node CPUs busy while the profile's cells were measured: 41%\n", "; node CPUs busy during mesh runs: 29%\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "during mesh runs"); n != 1 {
		t.Errorf("%d rates show a node share, want only the one that has it:\n%s", n, out)
	}
}
