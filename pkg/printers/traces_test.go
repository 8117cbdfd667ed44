package printers

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/traces"
)

// traceReport predicts the checkout traces of pkg/traces/testdata with the
// reference profile and the what-ifs given.
func traceReport(t *testing.T, whatIfs ...string) *predict.TraceReport {
	t.Helper()
	const fixture = "../traces/testdata/jaeger-checkout.json"
	set, err := traces.ReadPath(fixture)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := profile.Reference()
	if err != nil {
		t.Fatal(err)
	}
	in := predict.TraceInput{Summary: traces.Summarize(set, traces.Filter{}), Source: fixture,
		Profile: ref, ProfileSource: "embedded"}
	for _, s := range whatIfs {
		w, err := predict.ParseWhatIf(s)
		if err != nil {
			t.Fatal(err)
		}
		in.WhatIf = append(in.WhatIf, w)
	}
	r, _, err := predict.PredictTraces(in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPrintTracesGolden(t *testing.T) {
	base, whatIf := traceReport(t), traceReport(t, "mtls=off", "mode=ambient,workload=payment")
	for name, c := range map[string]struct {
		r      *predict.TraceReport
		format Format
	}{
		"traces.table":        {base, Table},
		"traces.wide":         {base, Wide},
		"traces-whatif.table": {whatIf, Table},
		"traces-whatif.wide":  {whatIf, Wide},
	} {
		t.Run(name, func(t *testing.T) {
			checkGolden(t, name, func(w io.Writer) error { return PrintTraces(w, c.r, c.format) })
		})
	}
}

func TestPrintTracesFormats(t *testing.T) {
	r := traceReport(t)
	var js bytes.Buffer
	if err := PrintTraces(&js, r, JSON); err != nil {
		t.Fatal(err)
	}
	var back predict.TraceReport
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || !reflect.DeepEqual(back.Operations, r.Operations) {
		t.Errorf("JSON round trip: %v", err)
	}
	var y bytes.Buffer
	if err := PrintTraces(&y, r, YAML); err != nil || !strings.Contains(y.String(), "kind: TracePrediction\n") {
		t.Errorf("YAML: %v\n%.200s", err, y.String())
	}
	var dot bytes.Buffer
	if err := PrintTraces(&dot, r, Dot); err == nil || !strings.Contains(err.Error(), "-o dot is not available with traces") || dot.Len() != 0 {
		t.Errorf("dot: %v, wrote %d bytes", err, dot.Len())
	}
}

func TestPrintTracesWithoutCalls(t *testing.T) {
	r := &predict.TraceReport{Profile: predict.ProfileInfo{Name: "p"}, Source: "s",
		Operations: []predict.OperationResult{{Service: "a", Operation: "GET /", Traces: 1, Calls: []predict.CallResult{}}}}
	var buf bytes.Buffer
	if err := PrintTraces(&buf, r, Wide); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "No calls between services on any critical path.") || strings.Contains(buf.String(), "Components:") {
		t.Errorf("output:\n%s", buf.String())
	}
}
