package profilestore

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

func measured(t *testing.T, nodeType string) *profile.Profile {
	t.Helper()
	p, err := profile.Reference()
	if err != nil {
		t.Fatal(err)
	}
	p.Metadata.Reference = false
	p.Metadata.Name = "measured-" + nodeType
	p.Provenance.Platform.NodeType = nodeType
	return p
}

func TestLocalRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if s, err := LoadLocal(dir, "prod"); s != nil || err != nil {
		t.Fatalf("empty store: %v, %v", s, err)
	}
	set := NewSet("", measured(t, "m5.large"), measured(t, "c6g/xl"))
	paths, err := SaveLocal(dir, "prod", set)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 || paths[0] != filepath.Join(dir, "prod.json") {
		t.Errorf("paths %v", paths)
	}
	got, err := LoadLocal(dir, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if got.Default.Metadata.Name != "measured-m5.large" || len(got.ByNodeType) != 2 || got.ByNodeType["c6g/xl"] == nil {
		t.Errorf("loaded %+v", got)
	}
	// Another context's profiles are not mixed in.
	if s, _ := LoadLocal(dir, "staging"); s != nil {
		t.Errorf("context staging loaded %v", s.Source)
	}
}

func TestLoadLocalRejectsInvalid(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ctx.json"), []byte(`{"apiVersion":"x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLocal(dir, "ctx"); err == nil {
		t.Error("an invalid stored profile was accepted")
	}
}

func TestKey(t *testing.T) {
	for in, want := range map[string]string{"m5.large": "m5.large", "a/b c": "a_b_c", "": "_", "..": "_", "arn:aws:eks:eu-west-1:1:cluster/x": "arn_aws_eks_eu-west-1_1_cluster_x"} {
		if got := Key(in); got != want {
			t.Errorf("Key(%q) = %q, want %q", in, got, want)
		}
	}
}
