package profilerun

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	sigsyaml "sigs.k8s.io/yaml"
)

// stripComments drops YAML comment lines, to tell empty documents (only
// comments) from real ones.
func stripComments(doc []byte) string {
	var b strings.Builder
	for _, l := range strings.Split(string(doc), "\n") {
		if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(t, "#") || t == "---" {
			continue
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// decodeDoc decodes one document: a built-in kind into its typed object,
// anything else (Istio's kinds) into Unstructured.
func decodeDoc(doc []byte) (runtime.Object, error) {
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
	if err == nil {
		return obj, nil
	}
	if !runtime.IsNotRegisteredError(err) {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := sigsyaml.Unmarshal(doc, &u.Object); err != nil {
		return nil, err
	}
	return u, nil
}

func metaOf(o runtime.Object) (metav1.Object, error) { return meta.Accessor(o) }

// Decode parses a multi-document YAML stream of the profiler's manifests
// (as printed by --dry-run) into typed objects.
func Decode(raw []byte) ([]runtime.Object, error) { return decode(raw) }
