package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshinsight/kubectl-meshinsight/internal/profiletest"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profilestore"
)

// TestProfileListShowRmLocal runs the subcommands as a user would, on a
// store under a temporary XDG_CONFIG_HOME and without a kubeconfig.
func TestProfileListShowRmLocal(t *testing.T) {
	xdg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	t.Setenv("KUBECONFIG", filepath.Join(xdg, "no-kubeconfig"))
	dir := filepath.Join(xdg, "meshinsight", "profiles")

	if out, errOut, err := execute(t, "profile", "list"); err != nil || out != "" || !strings.Contains(errOut, "No profiles found in "+dir) {
		t.Fatalf("empty store: %v\nstdout %q\nstderr %q", err, out, errOut)
	}
	if _, err := profilestore.SaveLocal(dir, "kind-kind", profilestore.NewSet("", profiletest.Measured(t, "m5.large"))); err != nil {
		t.Fatal(err)
	}
	out, _, err := execute(t, "profile", "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "NODE TYPE") ||
		!strings.HasPrefix(lines[1], "kind-kind ") || !strings.HasSuffix(lines[1], "file") || !strings.HasPrefix(lines[2], "kind-kind@m5.large ") {
		t.Errorf("list:\n%s", out)
	}
	if out, _, err := execute(t, "profile", "list", "-o", "name"); err != nil || out != "profile/kind-kind\nprofile/kind-kind@m5.large\n" {
		t.Errorf("list -o name: %v\n%s", err, out)
	}
	out, _, err = execute(t, "profile", "list", "-o", "json")
	var entries []profilestore.Entry
	if err != nil || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 2 || entries[0].NodeType != "m5.large" || entries[0].Location != filepath.Join(dir, "kind-kind.json") {
		t.Errorf("list -o json: %v\n%s", err, out)
	}

	out, _, err = execute(t, "profile", "show", "kind-kind")
	for _, want := range []string{"Profile:          measured-m5.large", "Node type:        m5.large", "Models:", "Operating point:", "Stored in:        file " + filepath.Join(dir, "kind-kind.json")} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("show: %v: want %q in\n%s", err, want, out)
		}
	}
	out, _, err = execute(t, "profile", "show", "profile/kind-kind", "-o", "json")
	if p, perr := profile.Parse([]byte(out)); err != nil || perr != nil || p.Metadata.Name != "measured-m5.large" {
		t.Errorf("show -o json: %v, %v", err, perr)
	}

	expectErrors(t, map[string]errorCase{
		"show unknown":      {[]string{"profile", "show", "nope"}, `no stored profile named "nope"`},
		"rm unknown":        {[]string{"profile", "rm", "nope"}, `no stored profile named "nope"`},
		"rm outside store":  {[]string{"profile", "rm", "../kind-kind"}, "no stored profile"},
		"rm no cluster":     {[]string{"profile", "rm", "default", "--from-cluster"}, "--from-cluster reads a cluster"},
		"list bad format":   {[]string{"profile", "list", "-o", "wide"}, `unknown output format "wide"`},
		"show needs a name": {[]string{"profile", "show"}, "accepts 1 arg"},
	})

	if out, _, err := execute(t, "profile", "rm", "kind-kind@m5.large"); err != nil || !strings.Contains(out, `profile "kind-kind@m5.large" removed`) {
		t.Fatalf("rm: %v\n%s", err, out)
	}
	if out, _, err := execute(t, "profile", "list", "-o", "name"); err != nil || out != "profile/kind-kind\n" {
		t.Errorf("list after rm: %v\n%s", err, out)
	}
}

// TestStoredProfilesCluster lists, shows and removes the cluster's
// ConfigMap profiles through a fake clientset.
func TestStoredProfilesCluster(t *testing.T) {
	ctx := context.Background()
	kc := fake.NewClientset()
	if err := profilestore.SaveCluster(ctx, kc, "mesh", profilestore.NewSet("", profiletest.Measured(t, "m5.large"), profiletest.Measured(t, "c6g"))); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := profilestore.SaveLocal(dir, "prod", profilestore.NewSet("", profiletest.Measured(t, "m5.large"))); err != nil {
		t.Fatal(err)
	}
	run := func(action storeAction, name, output string, fromCluster bool) (string, error) {
		streams, _, out, _ := genericiooptions.NewTestIOStreams()
		o := &StoredProfileOptions{action: action, name: name, Output: output, FromCluster: fromCluster,
			dir: dir, kube: kc, namespace: "mesh", IOStreams: streams}
		if err := o.Complete(nil); err != nil {
			return "", err
		}
		if err := o.Validate(); err != nil {
			return "", err
		}
		err := o.Run(ctx)
		return out.String(), err
	}

	out, err := run(listProfiles, "", "name", false)
	if want := "profile/prod\nprofile/prod@m5.large\nprofile/default\nprofile/nodetype-c6g\nprofile/nodetype-m5.large\n"; err != nil || out != want {
		t.Errorf("list: %v\n%s\nwant\n%s", err, out, want)
	}
	out, err = run(listProfiles, "", "table", false)
	if err != nil || !strings.Contains(out, "nodetype-c6g") || !strings.Contains(out, "cluster") {
		t.Errorf("list table: %v\n%s", err, out)
	}
	// A name only the cluster has is found there without --from-cluster.
	out, err = run(showProfile, "nodetype-c6g", "table", false)
	if err != nil || !strings.Contains(out, "Stored in:        cluster mesh/meshinsight-profile:nodetype-c6g.json") {
		t.Errorf("show: %v\n%s", err, out)
	}
	if _, err := run(showProfile, "prod", "table", true); err == nil || !strings.Contains(err.Error(), `no stored profile named "prod" in ConfigMap mesh/meshinsight-profile`) {
		t.Errorf("show --from-cluster of a local name: %v", err)
	}
	if _, err := run(showProfile, "nope", "table", false); err == nil || !strings.Contains(err.Error(), "nor in ConfigMap mesh/meshinsight-profile") {
		t.Errorf("show nope: %v", err)
	}
	if out, err := run(removeProfile, "nodetype-c6g", "", true); err != nil || !strings.Contains(out, "removed from ConfigMap mesh/meshinsight-profile") {
		t.Errorf("rm --from-cluster: %v\n%s", err, out)
	}
	if out, err := run(removeProfile, "default", "", true); err != nil || !strings.Contains(out, "ConfigMap mesh/meshinsight-profile deleted") {
		t.Errorf("rm default --from-cluster: %v\n%s", err, out)
	}
	if out, err := run(listProfiles, "", "name", false); err != nil || out != "profile/prod\nprofile/prod@m5.large\n" {
		t.Errorf("list after rm: %v\n%s", err, out)
	}

	// An unreachable cluster: list shows the files, show says both.
	kc.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	if out, err := run(listProfiles, "", "name", false); err != nil || out != "profile/prod\nprofile/prod@m5.large\n" {
		t.Errorf("list, cluster unreachable: %v\n%s", err, out)
	}
	if _, err := run(showProfile, "nope", "table", false); err == nil || !strings.Contains(err.Error(), `no stored profile named "nope" in `+dir+`, and the cluster's could not be read`) {
		t.Errorf("show nope, cluster unreachable: %v", err)
	}
}

// TestPredictCompareProfile shows a second profile as the variant of the
// same graph: the report's Baseline is --profile's, its Variant the
// compared profile's.
func TestPredictCompareProfile(t *testing.T) {
	faster := profiletest.Measured(t, "m5.large")
	faster.Metadata.Name = "faster"
	for i := range faster.Models {
		faster.Models[i].LatencyP50Micros.Intercept /= 2
		faster.Models[i].CPUMicrosPerRequest.Intercept /= 2
	}
	path := filepath.Join(t.TempDir(), "faster.json")
	if err := profile.WriteFile(path, faster); err != nil {
		t.Fatal(err)
	}
	out, _, err := execute(t, "predict", "-f", "example:bookinfo", "--compare-profile", path, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r predict.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Variant == nil || len(r.WhatIf) != 1 || r.WhatIf[0] != "profile faster ("+path+")" || !r.Profile.Reference {
		t.Fatalf("report: whatIf %v, profile %+v, variant %v", r.WhatIf, r.Profile, r.Variant != nil)
	}
	for i, e := range r.Variant.Edges {
		if b := r.Baseline.Edges[i]; e.LatencyP50Micros >= b.LatencyP50Micros || e.CPUMillicores >= b.CPUMillicores {
			t.Errorf("edge %s->%s: compared %v µs %v m, baseline %v µs %v m", e.From, e.To, e.LatencyP50Micros, e.CPUMillicores, b.LatencyP50Micros, b.CPUMillicores)
		}
	}
	expectErrors(t, map[string]errorCase{
		"with what-if": {[]string{"predict", "-f", "example:bookinfo", "--compare-profile", path, "--what-if", "mtls=off"}, "--compare-profile compares two profiles"},
		"missing file": {[]string{"predict", "-f", "example:bookinfo", "--compare-profile", path + ".missing"}, "reading --compare-profile"},
	})
}

// TestPredictSVG draws an example without Graphviz: a standalone SVG (and
// an HTML page around it) naming every workload and the assumptions.
func TestPredictSVG(t *testing.T) {
	for _, f := range []string{"svg", "html"} {
		out, _, err := execute(t, "predict", "-f", "example:bookinfo", "--what-if", "mtls=off", "-o", f)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"<svg xmlns=", "productpage-v1", "ratings-v1", "(Δ ", "Assumptions and warnings:", "</svg>"} {
			if !strings.Contains(out, want) {
				t.Errorf("-o %s: %q missing", f, want)
			}
		}
	}
}
