package testenv

import (
	"os"
	"regexp"
	"testing"
)

func TestKubernetesVersionMatchesBuild(t *testing.T) {
	const path = "../../hack/testenv/k8s/go.mod"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	m := regexp.MustCompile(`(?m)^require k8s\.io/kubernetes (v\S+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("%s requires no k8s.io/kubernetes", path)
	}
	if got := string(m[1]); got != KubernetesVersion {
		t.Errorf("%s builds Kubernetes %s, but KubernetesVersion is %s: update one of them", path, got, KubernetesVersion)
	}
}

func TestNamespacePrefix(t *testing.T) {
	tests := []struct {
		name, testName, want string
	}{
		{"simple", "TestFoo", "testfoo-"},
		{"subtest", "TestFoo/bar_baz", "testfoo-bar-baz-"},
		{"symbols only", "///", "test-"},
		{"long", "TestAVeryLongNameThatGoesOnAndOnAndOnForeverAndEver", "testaverylongnamethatgoesonandonandonfor-"},
		{"trailing cut", "TestXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/ab", "testxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := namespacePrefix(tt.testName)
			if got != tt.want {
				t.Errorf("namespacePrefix(%q) = %q, want %q", tt.testName, got, tt.want)
			}
			if len(got) > 63-5 {
				t.Errorf("namespacePrefix(%q) = %q leaves no room for the generated suffix", tt.testName, got)
			}
		})
	}
}
