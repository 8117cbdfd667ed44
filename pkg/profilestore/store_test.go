package profilestore

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshinsight/kubectl-meshinsight/internal/profiletest"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// measured is a profile as if measured on nodeType.
func measured(t *testing.T, nodeType string) *profile.Profile {
	return profiletest.Measured(t, nodeType)
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

func TestClusterRoundTrip(t *testing.T) {
	ctx := context.Background()
	kc := fake.NewSimpleClientset()
	if s, err := LoadCluster(ctx, kc, "istio-system"); s != nil || err != nil {
		t.Fatalf("no ConfigMap: %v, %v", s, err)
	}
	if err := SaveCluster(ctx, kc, "istio-system", &Set{}); err == nil {
		t.Error("an empty set was saved")
	}
	if err := SaveCluster(ctx, kc, "istio-system", NewSet("", measured(t, "m5.large"), measured(t, "c6g/xl"))); err != nil {
		t.Fatal(err)
	}
	cm, err := kc.CoreV1().ConfigMaps("istio-system").Get(ctx, ConfigMapName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(cm.Data)); !slices.Equal(got, []string{DefaultKey, "nodetype-c6g_xl.json", "nodetype-m5.large.json"}) {
		t.Errorf("ConfigMap keys %v", got)
	}
	// Saving again replaces the set: a node type measured before is gone.
	if err := SaveCluster(ctx, kc, "istio-system", NewSet("", measured(t, "m6i.large"))); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCluster(ctx, kc, "istio-system")
	if err != nil {
		t.Fatal(err)
	}
	if got.Source != "ConfigMap istio-system/meshinsight-profile" || got.Default.Metadata.Name != "measured-m6i.large" ||
		!slices.Equal(got.NodeTypes(), []string{"m6i.large"}) {
		t.Errorf("loaded %s: default %q, node types %v", got.Source, got.Default.Metadata.Name, got.NodeTypes())
	}
}

func TestLoadClusterErrors(t *testing.T) {
	ctx := context.Background()
	cm := func(data map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: "istio-system"}, Data: data}
	}
	for name, tc := range map[string]struct {
		data map[string]string
		want string
	}{
		"no default":        {map[string]string{"other": "{}"}, `has no "default.json" key: re-run`},
		"invalid default":   {map[string]string{DefaultKey: `{"apiVersion":"x"}`}, "ConfigMap istio-system/meshinsight-profile:"},
		"invalid node type": {map[string]string{DefaultKey: marshal(t, measured(t, "a")), "nodetype-b.json": "{"}, `key "nodetype-b.json"`},
		// Issue #13 item 8: whoever can write the ConfigMap must not skew
		// every prediction with absurd coefficients.
		"absurd default": {map[string]string{DefaultKey: strings.Replace(marshal(t, measured(t, "a")), `"intercept": 4.275`, `"intercept": 1e300`, 1)}, "is 1e+300"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadCluster(ctx, fake.NewSimpleClientset(cm(tc.data)), "istio-system")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// Without access, predict goes on to the next source: no set, no error.
	kc := fake.NewSimpleClientset()
	kc.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, ConfigMapName, errors.New("no"))
	})
	if s, err := LoadCluster(ctx, kc, "istio-system"); s != nil || err != nil {
		t.Errorf("forbidden: %v, %v", s, err)
	}
}

func marshal(t *testing.T, p *profile.Profile) string {
	t.Helper()
	b, err := profile.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
