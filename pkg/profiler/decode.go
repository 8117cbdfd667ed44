package profiler

import (
	"bufio"
	"bytes"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

var errEOF = io.EOF

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

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

func metaOf(o runtime.Object) (metav1.Object, error) { return meta.Accessor(o) }

// Decode parses a multi-document YAML stream of the profiler's manifests
// (as printed by --dry-run) into typed objects.
func Decode(raw []byte) ([]runtime.Object, error) { return decode(raw) }
