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
