package cmd

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profilestore"
)

const (
	jaegerTraces = "../traces/testdata/jaeger-checkout.json"
	zipkinTraces = "../traces/testdata/zipkin-checkout.json"
	otlpTraces   = "../traces/testdata/otlp-checkout.json"
)

// The command prints what pkg/printers renders for the prediction: its
// golden files show the tables.
func TestPredictTracesGolden(t *testing.T) {
	cases := map[string][]string{
		"traces.table":        {"predict", "--traces", jaegerTraces},
		"traces.wide":         {"predict", "--traces", jaegerTraces, "-o", "wide"},
		"traces-whatif.table": {"predict", "--traces", jaegerTraces, "--what-if", "mtls=off", "--what-if", "mode=ambient,workload=payment"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			out, errOut, err := execute(t, args...)
			if err != nil {
				t.Fatal(err, errOut)
			}
			want, err := os.ReadFile(filepath.Join("..", "printers", "testdata", name+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				t.Errorf("output differs from pkg/printers/testdata/%s.golden\ngot:\n%s\nwant:\n%s", name, out, want)
			}
		})
	}
}

func tracesReport(t *testing.T, args ...string) *predict.TraceReport {
	t.Helper()
	out, errOut, err := execute(t, append(slices.Clone(args), "-o", "json")...)
	if err != nil {
		t.Fatal(err, errOut)
	}
	var r predict.TraceReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// The three fixtures carry the same traces in three formats: the figures agree.
func TestPredictTracesFormatsAgree(t *testing.T) {
	jaeger := tracesReport(t, "predict", "--traces", jaegerTraces)
	for _, file := range []string{zipkinTraces, otlpTraces} {
		r := tracesReport(t, "predict", "--traces", file)
		if !reflect.DeepEqual(r.Operations, jaeger.Operations) {
			t.Errorf("%s: operations differ from Jaeger's:\n%+v\n%+v", file, r.Operations, jaeger.Operations)
		}
	}
	if jaeger.Kind != predict.TraceReportKind || len(jaeger.Operations) != 2 || jaeger.Operations[0].Baseline.LatencyP50Micros <= 0 {
		t.Errorf("report %+v", jaeger)
	}
}

func TestPredictTracesDirServiceAndGraph(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(jaegerTraces)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "a.json", string(data))
	writeFile(t, dir, "notes.txt", "not traces")
	graph := writeFile(t, dir, "shop.yaml", `apiVersion: meshinsight.dev/v1
kind: CallGraph
metadata: {name: shop}
workloads:
  - {name: payment, namespace: shop, mode: ambient}
  - {name: postgres, namespace: shop, mode: none}
edges:
  - {from: payment, to: postgres, protocol: tcp}
`)
	export := filepath.Join(dir, "derived.yaml")
	r := tracesReport(t, "predict", "--traces", dir, "--service", "payment", "-f", graph, "--export-graph", export)
	if len(r.Operations) != 1 || r.Operations[0].Name() != "payment POST /charge" || r.Operations[0].Traces != 2 {
		t.Fatalf("operations %+v", r.Operations)
	}
	c := r.Operations[0].Calls
	if len(c) != 1 || c[0].Edge.From != "shop/payment" || c[0].Edge.ServerMode != "none" || c[0].Edge.MTLS || c[0].PerRequest != 0.5 {
		t.Errorf("calls %+v", c)
	}
	g, err := callgraph.ReadFile(export)
	if err != nil || len(g.Edges) != 5 || g.Metadata.Name != "shop+traces" {
		t.Errorf("exported graph %+v: %v", g, err)
	}
}

func TestPredictJaegerURL(t *testing.T) {
	data, err := os.ReadFile(jaegerTraces)
	if err != nil {
		t.Fatal(err)
	}
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		w.Write(data)
	}))
	defer srv.Close()
	r := tracesReport(t, "predict", "--jaeger-url", srv.URL, "--service", "frontend", "--operation", "GET /checkout", "--limit", "5", "--lookback", "30m")
	if len(r.Operations) != 1 || r.Operations[0].Operation != "GET /checkout" || r.Source != srv.URL {
		t.Errorf("report %+v", r)
	}
	for _, want := range []string{"service=frontend", "operation=GET+%2Fcheckout", "limit=5", "lookback=30m"} {
		if !strings.Contains(query, want) {
			t.Errorf("query %q lacks %q", query, want)
		}
	}
}

func TestPredictTracesErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]errorCase{
		"both sources":      {[]string{"predict", "--traces", jaegerTraces, "--jaeger-url", "http://x"}, "give one"},
		"jaeger no service": {[]string{"predict", "--jaeger-url", "http://localhost:16686"}, "--jaeger-url needs --service"},
		"jaeger bad url":    {[]string{"predict", "--jaeger-url", "localhost:16686", "--service", "a"}, "want e.g. http://localhost:16686"},
		"service alone":     {[]string{"predict", "-f", bookinfo, "--service", "a"}, "give --traces FILE|DIR or --jaeger-url"},
		"-A":                {[]string{"predict", "--traces", jaegerTraces, "-A"}, "cannot be combined with --traces"},
		"dot":               {[]string{"predict", "--traces", jaegerTraces, "-o", "dot"}, "-o dot is not available with traces"},
		"svg":               {[]string{"predict", "--traces", jaegerTraces, "-o", "svg"}, "-o svg is not available with traces"},
		"bad limit":         {[]string{"predict", "--jaeger-url", "http://x", "--service", "a", "--limit", "0"}, "must be positive"},
		"missing file":      {[]string{"predict", "--traces", filepath.Join(dir, "nope.json")}, "reading traces"},
		"empty dir":         {[]string{"predict", "--traces", dir}, "no .json trace files"},
		"not traces":        {[]string{"predict", "--traces", bookinfo}, "not a Jaeger, Zipkin v2 or OTLP"},
		"unknown service":   {[]string{"predict", "--traces", jaegerTraces, "--service", "nobody"}, `has a request of service "nobody"`},
		"jaeger down":       {[]string{"predict", "--jaeger-url", "http://127.0.0.1:1", "--service", "a"}, "is the query service reachable"},
	}
	expectErrors(t, cases)
}

// With per-node-type profiles stored for the context, a trace prediction
// applies each node type's profile to the workloads the graph puts on it,
// as a graph prediction does (it used the default profile everywhere).
func TestPredictTracesUsesNodeTypeProfiles(t *testing.T) {
	xdg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	dir, err := profilestore.Dir()
	if err != nil {
		t.Fatal(err)
	}
	measured := func(nodeType string, slower float64) *profile.Profile {
		p, err := profile.Reference()
		if err != nil {
			t.Fatal(err)
		}
		p.Metadata.Name, p.Metadata.Reference, p.Provenance.Platform.NodeType = "lab-"+nodeType, false, nodeType
		for i := range p.Models {
			p.Models[i].LatencyP50Micros.Intercept *= slower
			p.Models[i].LatencyP50Micros.PerKiB *= slower
		}
		return p
	}
	if _, err := profilestore.SaveLocal(dir, "lab", profilestore.NewSet("", measured("m5.large", 1), measured("c6g.large", 3))); err != nil {
		t.Fatal(err)
	}
	graph := writeFile(t, t.TempDir(), "shop.yaml", `apiVersion: meshinsight.dev/v1
kind: CallGraph
workloads:
  - {name: frontend, nodeType: m5.large}
  - {name: payment, nodeType: c6g.large}
`)
	perNodeType := tracesReport(t, "--context", "lab", "predict", "--traces", jaegerTraces, "-f", graph)
	oneProfile := tracesReport(t, "--context", "lab", "predict", "--traces", jaegerTraces, "-f", graph, "--profile", "../profile/reference.json")
	if !slices.ContainsFunc(perNodeType.Messages, func(m diag.Message) bool {
		return m.Code == diag.NodeTypeProfile && m.Subject == "node type c6g.large" && strings.Contains(m.Message, "default/payment")
	}) {
		t.Errorf("no MI0031 for payment's node type: %v", perNodeType.Messages)
	}
	call := func(r *predict.TraceReport, name string) predict.EdgeResult {
		for _, c := range r.Operations[0].Calls {
			if c.Name() == name {
				return c.Edge
			}
		}
		t.Fatalf("no call %s", name)
		return predict.EdgeResult{}
	}
	// payment's inbound proxy runs on the 3× slower node type.
	if a, b := call(perNodeType, "frontend->payment").LatencyP50Micros, call(oneProfile, "frontend->payment").LatencyP50Micros; !(a > 1.5*b) {
		t.Errorf("frontend->payment +p50 %.0fµs with the node-type profiles, %.0fµs without", a, b)
	}
}

func TestPredictTracesRejectsFanOut(t *testing.T) {
	_, _, err := execute(t, "predict", "--traces", jaegerTraces, "--fanout", "parallel")
	if err == nil || !strings.Contains(err.Error(), "with traces each request's critical path already says which calls were waited for") {
		t.Errorf("err = %v", err)
	}
	// The default is no reason to refuse.
	if _, _, err := execute(t, "predict", "--traces", jaegerTraces); err != nil {
		t.Error(err)
	}
}
