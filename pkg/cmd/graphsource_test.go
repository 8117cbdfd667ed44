package cmd

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPredictEmbeddedExamples(t *testing.T) {
	out, _, err := execute(t, "predict", "--list-examples")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"example:bookinfo", "example:online-boutique", "example:ambient-shop"} {
		if !strings.Contains(out, name) {
			t.Errorf("--list-examples lacks %s:\n%s", name, out)
		}
		out, _, err := execute(t, "predict", "-f", name)
		if err != nil || !strings.Contains(out, "Edges:") {
			t.Errorf("predict -f %s: %v\n%s", name, err, out)
		}
	}
	if _, _, err := execute(t, "predict", "-f", "example:bookinf"); err == nil || !strings.Contains(err.Error(), "want one of ambient-shop, bookinfo") {
		t.Errorf("unknown example: %v", err)
	}
}

func TestPredictFromURL(t *testing.T) {
	data, err := os.ReadFile(bookinfo)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/bookinfo.yaml" {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	out, _, err := execute(t, "predict", "-f", srv.URL+"/bookinfo.yaml")
	if err != nil || !strings.Contains(out, "productpage-v1 -> details-v1") {
		t.Errorf("predict -f URL: %v\n%s", err, out)
	}
	if _, _, err := execute(t, "predict", "-f", srv.URL+"/none.yaml"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("predict -f missing URL: %v", err)
	}
}

func TestPredictWithoutKubeconfigSuggestsExamples(t *testing.T) {
	empty := writeFile(t, t.TempDir(), "config", "")
	_, _, err := execute(t, "--kubeconfig", empty, "predict")
	if err == nil || !strings.Contains(err.Error(), "-f example:bookinfo") || !strings.Contains(err.Error(), "--kubeconfig") {
		t.Errorf("predict without a kubeconfig: %v", err)
	}
	if _, _, err := execute(t, "--kubeconfig", empty, "graph"); err == nil || !strings.Contains(err.Error(), "graph reads a cluster: no kubeconfig found") {
		t.Errorf("graph without a kubeconfig: %v", err)
	}
	_, _, err = execute(t, "--kubeconfig", filepath.Join(t.TempDir(), "none"), "predict")
	if err == nil || !strings.Contains(err.Error(), "pass -f FILE") {
		t.Errorf("predict with a missing kubeconfig: %v", err)
	}
}

func TestNoResourcesMessage(t *testing.T) {
	for _, tc := range []struct {
		ns   string
		all  bool
		want string
	}{
		{"shop", false, "No resources found in shop namespace.\n"},
		{"shop", true, "No resources found\n"},
	} {
		var b strings.Builder
		noResources(&b, tc.ns, tc.all)
		if b.String() != tc.want {
			t.Errorf("noResources(%q, %v) = %q, want %q", tc.ns, tc.all, b.String(), tc.want)
		}
	}
}

func TestPredictBudget(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string // "" when within the budget
	}{
		"p99 above":      {[]string{"--max-added-p99", "10ms"}, ""},
		"p99 below":      {[]string{"--max-added-p99", "100us"}, "edge bookinfo/productpage-v1->bookinfo/details-v1: +P99"},
		"p50 below":      {[]string{"--max-added-p50", "100us"}, "path bookinfo/productpage-v1: +P50 625.9µs > 100µs"},
		"cpu above":      {[]string{"--max-proxy-cpu", "2"}, ""},
		"cpu below":      {[]string{"--max-proxy-cpu", "1m"}, "proxy bookinfo/productpage-v1: CPU/replica"},
		"variant":        {[]string{"--what-if", "mode=ambient", "--max-added-p99", "100us"}, "of the variant exceed"},
		"bad quantity":   {[]string{"--max-proxy-cpu", "lots"}, "want a positive CPU quantity"},
		"with traces":    {[]string{"--traces", jaegerTraces, "--max-added-p99", "1ms"}, "not traces"},
		"negative limit": {[]string{"--max-added-p99", "-1ms"}, "must be positive"},
	} {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"predict"}, tc.args...)
			if tc.args[0] != "--traces" {
				args = append(args, "-f", "example:bookinfo")
			}
			out, _, err := execute(t, args...)
			if tc.want == "" {
				if err != nil {
					t.Errorf("within budget: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
			if strings.HasPrefix(name, "p") && !strings.Contains(out, "Edges:") {
				t.Errorf("the report was not printed before failing:\n%s", out)
			}
		})
	}
}

func TestPredictQuiet(t *testing.T) {
	out, errOut, err := execute(t, "predict", "-f", "example:bookinfo", "--what-if", "mode=none,workload=ratings-v1", "-q")
	if err != nil {
		t.Fatal(err)
	}
	if errOut != "" || strings.Contains(out, "Info [") {
		t.Errorf("-q printed notices or Info messages:\nstderr %q\n%s", errOut, out)
	}
	if !strings.Contains(out, "Warning [MI0002]") {
		t.Errorf("-q dropped a warning:\n%s", out)
	}
}

func TestPredictScriptOutput(t *testing.T) {
	out, _, err := execute(t, "predict", "-f", "example:bookinfo", "--sort-by", "cpu", "-o", "name")
	if err != nil || !strings.HasPrefix(out, "edge/bookinfo/productpage-v1->bookinfo/details-v1\n") || strings.Count(out, "\n") != 6 {
		t.Errorf("-o name --sort-by cpu: %v\n%s", err, out)
	}
	// The six edges, then productpage's requests from outside (#13 item 7),
	// as in the table.
	out, _, err = execute(t, "predict", "-f", "example:bookinfo", "--sort-by", "p99", "--no-headers")
	if err != nil || strings.Contains(out, "EDGE") || strings.Count(out, "\n") != 7 || !strings.HasPrefix(out, "productpage-v1 -> reviews-v") ||
		!strings.Contains(out, "\n(outside) -> productpage-v1 ") {
		t.Errorf("--no-headers --sort-by p99: %v\n%s", err, out)
	}
	expectErrors(t, map[string]errorCase{
		"no-headers json": {[]string{"predict", "-f", "example:bookinfo", "--no-headers", "-o", "json"}, "--no-headers applies to table and wide"},
		"sort-by memory":  {[]string{"predict", "-f", "example:bookinfo", "--sort-by", "memory"}, "want one of name, p50, p99, cpu, rps"},
	})
}
