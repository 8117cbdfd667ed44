package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
	"github.com/spf13/cobra"
)

func execute(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	root := NewRootCommand(streams)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

const bookinfo = "../../examples/bookinfo.yaml"

// writeFile writes data to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// errorCase is a command line that must fail with an error containing want.
type errorCase struct {
	args []string
	want string
}

// expectErrors runs every case as a subtest.
func expectErrors(t *testing.T, cases map[string]errorCase) {
	t.Helper()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := execute(t, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func TestPredictTable(t *testing.T) {
	out, errOut, err := execute(t, "predict", "-f", bookinfo)
	if err != nil {
		t.Fatal(err, errOut)
	}
	for _, want := range []string{"productpage-v1 -> details-v1", "reviews-v3 -> ratings-v1", "+P50", "Totals:", "MI0007"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "embedded reference profile") {
		t.Errorf("no fallback notice on stderr: %q", errOut)
	}
}

func TestPredictJSONCarriesEveryEdge(t *testing.T) {
	out, _, err := execute(t, "predict", "-f", bookinfo, "-o", "json", "--what-if", "mtls=off")
	if err != nil {
		t.Fatal(err)
	}
	var r predict.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Baseline.Edges) != 6 || r.Variant == nil || r.Profile.Source != "embedded" || !r.Profile.Reference {
		t.Fatalf("report = %+v", r)
	}
	for i, e := range r.Baseline.Edges {
		if !(e.LatencyP50Micros > 0) || !(e.CPUMillicores > 0) || e.TopComponent == "" {
			t.Errorf("edge %s: %+v", e.Name(), e)
		}
		if !(r.Variant.Edges[i].LatencyP50Micros < e.LatencyP50Micros) {
			t.Errorf("edge %s: mTLS off did not lower latency", e.Name())
		}
	}
}

func TestPredictStdinAndProfileFile(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(bookinfo)
	if err != nil {
		t.Fatal(err)
	}
	streams, in, out, _ := genericiooptions.NewTestIOStreams()
	in.Write(data)
	root := NewRootCommand(streams)
	root.SetArgs([]string{"predict", "-f", "-", "-o", "yaml", "--profile", "../profile/reference.json"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "source: ../profile/reference.json") {
		t.Errorf("yaml output does not name the profile file:\n%.400s", out.String())
	}
	speed := writeFile(t, dir, "s.yaml", "parsing: 2\n")
	out2, _, err := execute(t, "predict", "-f", bookinfo, "--speedup", speed)
	if err != nil || !strings.Contains(out2, "speedup parsing=2") {
		t.Errorf("speed-up run: %v\n%s", err, out2)
	}
}

func TestPredictErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", "apiVersion: meshinsight.dev/v1\nkind: CallGraph\nworkloads:\n  - name: a\nedges:\n  - from: a\n    to: b\n")
	cases := map[string]errorCase{
		"no cluster":    {[]string{"--kubeconfig", filepath.Join(dir, "none"), "predict"}, "pass -f FILE to work without a cluster"},
		"-A with -f":    {[]string{"predict", "-A", "-f", bookinfo}, "cannot be combined with -f"},
		"-l with -f":    {[]string{"predict", "-l", "app=a", "-f", bookinfo}, "-l/--selector picks live workloads"},
		"bad selector":  {[]string{"predict", "-l", "app in (", "-f", bookinfo}, "-l/--selector \"app in (\""},
		"bad source":    {[]string{"predict", "--source", "tea-leaves"}, "unknown telemetry source"},
		"bad output":    {[]string{"predict", "-f", bookinfo, "-o", "xml"}, "unknown output format"},
		"bad fanout":    {[]string{"predict", "-f", bookinfo, "--fanout", "random"}, "--fanout"},
		"bad what-if":   {[]string{"predict", "-f", bookinfo, "--what-if", "mtls=maybe"}, "want on or off"},
		"missing file":  {[]string{"predict", "-f", filepath.Join(dir, "nope.yaml")}, "reading call graph"},
		"bad graph":     {[]string{"predict", "-f", bad}, "bad.yaml:7:5: edges[0].to: unknown workload \"b\""},
		"bad profile":   {[]string{"predict", "-f", bookinfo, "--profile", bad}, "invalid profile"},
		"extra args":    {[]string{"predict", "-f", bookinfo, "extra"}, "unknown command"},
		"missing speed": {[]string{"predict", "-f", bookinfo, "--speedup", filepath.Join(dir, "nope")}, "reading speed-up file"},
	}
	expectErrors(t, cases)
}

func TestVersion(t *testing.T) {
	out, _, err := execute(t, "version", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var v versionOutput
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.ClientVersion.Version == "" || v.ClientVersion.GoVersion == "" {
		t.Errorf("version json %q: %v", out, err)
	}
	if out, _, _ := execute(t, "version"); !strings.HasPrefix(out, "Client Version: ") {
		t.Errorf("plain version = %q", out)
	}
	if _, _, err := execute(t, "version", "-o", "toml"); err == nil {
		t.Error("-o toml accepted")
	}
}

func TestGlobalKubectlFlags(t *testing.T) {
	// kubectl's global flags are accepted even where a command does not need them.
	if _, _, err := execute(t, "--context", "x", "--kubeconfig", "/nonexistent", "-n", "ns", "predict", "-f", bookinfo); err != nil {
		t.Fatal(err)
	}
}

// kubeconfig writes a kubeconfig whose context "lab" points at a server
// nothing listens on: enough to build clients, never contacted.
func kubeconfig(t *testing.T) string {
	t.Helper()
	return writeFile(t, t.TempDir(), "config", `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: lab, context: {cluster: c, user: u, namespace: shop}}]
current-context: lab
`)
}

// predictOptions binds args to fresh predict options and completes them.
func predictOptions(t *testing.T, args ...string) (*PredictOptions, error) {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(true)
	kc := kubeconfig(t)
	flags.KubeConfig = &kc
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	o := NewPredictOptions(flags, streams)
	c := &cobra.Command{}
	o.AddFlags(c.Flags())
	if err := c.Flags().Parse(args); err != nil {
		t.Fatal(err)
	}
	return o, o.Complete(c)
}

func TestPredictComplete(t *testing.T) {
	for name, tc := range map[string]struct {
		args    []string
		source  source
		clients bool
	}{
		"live":                {nil, fromCluster, true},
		"all namespaces":      {[]string{"-A", "--source", "sidecars"}, fromCluster, true},
		"file":                {[]string{"-f", bookinfo}, fromFile, false},
		"stdin":               {[]string{"-f", "-"}, fromFile, false},
		"traces":              {[]string{"--traces", jaegerTraces}, fromTraces, false},
		"traces with a graph": {[]string{"--traces", jaegerTraces, "-f", bookinfo}, fromTraces, false},
		"jaeger":              {[]string{"--jaeger-url", "http://j:16686", "--service", "a"}, fromTraces, false},
	} {
		t.Run(name, func(t *testing.T) {
			o, err := predictOptions(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if o.source != tc.source || (o.clients != nil) != tc.clients || o.kubeContext != "lab" {
				t.Errorf("source %d, clients %v, context %q", o.source, o.clients != nil, o.kubeContext)
			}
			if tc.clients && (o.clients.Context != "lab" || o.clients.Namespace != "shop" || o.clients.Istio == nil) {
				t.Errorf("clients %+v", o.clients)
			}
		})
	}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"bad output":  {[]string{"-f", bookinfo, "-o", "xml"}, "unknown output format"},
		"bad fanout":  {[]string{"-f", bookinfo, "--fanout", "random"}, "--fanout"},
		"bad what-if": {[]string{"-f", bookinfo, "--what-if", "mtls=maybe"}, "want on or off"},
		"bad source":  {[]string{"--source", "tea-leaves"}, "unknown telemetry source"},
		"bad time":    {[]string{"--at", "yesterday"}, "--at \"yesterday\""},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := predictOptions(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPredictValidateNeitherReadsNorChanges(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string // "" for valid
	}{
		"file":               {[]string{"-f", "/nonexistent.yaml"}, ""},
		"-A with -f":         {[]string{"-A", "-f", bookinfo}, "cannot be combined with -f"},
		"window":             {[]string{"--window", "0s"}, "must be positive"},
		"traces and -A":      {[]string{"--traces", "/nonexistent", "-A"}, "cannot be combined with --traces"},
		"traces and dot":     {[]string{"--traces", "/nonexistent", "-o", "dot"}, "-o dot is not available"},
		"traces fan-out":     {[]string{"--traces", "/nonexistent", "--fanout", "sequential"}, "leave --fanout out"},
		"service alone":      {[]string{"-f", bookinfo, "--service", "a"}, "give --traces FILE|DIR or --jaeger-url"},
		"jaeger, no service": {[]string{"--jaeger-url", "http://j:16686"}, "needs --service"},
	} {
		t.Run(name, func(t *testing.T) {
			o, err := predictOptions(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			before := *o
			err = o.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
			if !reflect.DeepEqual(before, *o) {
				t.Errorf("Validate changed the options")
			}
		})
	}
}

func TestPredictTemplates(t *testing.T) {
	out, _, err := execute(t, "predict", "-f", "example:bookinfo", "-o", "jsonpath={.baseline.totals.edges}")
	if err != nil || out != "6" {
		t.Errorf("-o jsonpath: %q, %v; want 6", out, err)
	}
	out, _, err = execute(t, "predict", "-f", "example:bookinfo", "-o", "go-template={{range .baseline.proxies}}{{.workload}} {{end}}")
	if err != nil || !strings.Contains(out, "bookinfo/productpage-v1 ") {
		t.Errorf("-o go-template: %q, %v", out, err)
	}
	if _, _, err := execute(t, "predict", "-f", "example:bookinfo", "-o", "jsonpath={.baseline"); err == nil {
		t.Error("a broken jsonpath template was accepted")
	}
}
