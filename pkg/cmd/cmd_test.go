package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
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
	speed := filepath.Join(dir, "s.yaml")
	os.WriteFile(speed, []byte("parsing: 2\n"), 0o644)
	out2, _, err := execute(t, "predict", "-f", bookinfo, "--speedup", speed)
	if err != nil || !strings.Contains(out2, "speedup parsing=2") {
		t.Errorf("speed-up run: %v\n%s", err, out2)
	}
}

func TestPredictErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: meshinsight.dev/v1\nkind: CallGraph\nworkloads:\n  - name: a\nedges:\n  - from: a\n    to: b\n"), 0o644)
	cases := map[string]struct {
		args []string
		want string
	}{
		"no cluster":    {[]string{"--kubeconfig", filepath.Join(dir, "none"), "predict"}, "pass -f FILE to work without a cluster"},
		"-A with -f":    {[]string{"predict", "-A", "-f", bookinfo}, "cannot be combined with -f"},
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
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := execute(t, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
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
