package printers

import (
	"bytes"
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
)

// Issue #13 item 12: control characters in names (from files, traces,
// clusters) reach no human output raw: they could move the cursor, clear
// the screen or set the title (kubectl's CVE-2021-25743).
func TestHumanOutputEscapesControlCharacters(t *testing.T) {
	evil := "shop/\x1b]0;pwned\x07front\x1b[2J"
	r := baselineReport()
	r.Graph = "graph\x1b[31m"
	r.Baseline.Edges[0].From = evil
	r.Baseline.Proxies[1].Workload = evil
	r.Baseline.Paths[0].Entry = evil
	r.Baseline.Paths[0].CriticalPath[0] = evil
	r.Messages = append(r.Messages, diag.New(diag.DefaultUsed, evil, "mode not set"))
	for _, f := range []Format{Table, Wide, Dot} {
		var buf bytes.Buffer
		if err := Print(&buf, r, f); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("%s: raw control characters in the output:\n%q", f, out)
		}
		if !strings.Contains(out, `\x1b]0;pwned\x07front\x1b[2J`) {
			t.Errorf("%s: the name is not shown escaped:\n%s", f, out)
		}
	}
}

func TestTraceOutputEscapesControlCharacters(t *testing.T) {
	r := &predict.TraceReport{APIVersion: predict.ReportAPIVersion, Kind: predict.TraceReportKind, Source: "t\x1b[1m.json",
		Operations: []predict.OperationResult{{Service: "svc\x1b[2J", Operation: "GET /\x9b6n", Calls: []predict.CallResult{
			{From: "a\x07", To: "b", PerRequest: 1, Edge: predict.EdgeResult{From: "x/a", To: "x/b", Protocol: "http"}}}}}}
	for _, f := range []Format{Table, Wide} {
		var buf bytes.Buffer
		if err := PrintTraces(&buf, r, f); err != nil {
			t.Fatal(err)
		}
		if out := buf.String(); strings.ContainsAny(out, "\x1b\x07\u009b") || !strings.Contains(out, `svc\x1b[2J GET /\x9b6n`) {
			t.Errorf("%s:\n%q", f, out)
		}
	}
}
