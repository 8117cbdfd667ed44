package mesh

import (
	"context"
	"strings"
	"testing"

	"istio.io/client-go/pkg/clientset/versioned/fake"
	"istio.io/client-go/pkg/clientset/versioned/scheme"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// t0 is the creation time of resources whose age does not matter.
const t0 = "2024-01-01T00:00:00Z"

// manifest is the YAML of an Istio resource of the given kind, created at
// created (RFC 3339), with spec a YAML snippet.
func manifest(apiVersion, kind, ns, name, created, spec string) string {
	return `apiVersion: ` + apiVersion + `
kind: ` + kind + `
metadata: {namespace: ` + ns + `, name: ` + name + `, creationTimestamp: "` + created + `"}
spec: ` + spec
}

// decode turns YAML documents separated by "---" lines into Istio objects, so
// that tests read like the resources users write.
func decode(t *testing.T, manifests string) []runtime.Object {
	t.Helper()
	var objs []runtime.Object
	for _, doc := range strings.Split(manifests, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("decoding test manifest: %v\n%s", err, doc)
		}
		objs = append(objs, obj)
	}
	return objs
}

// load reads manifests through the fake clientset, across all namespaces.
func load(t *testing.T, manifests string) *Config {
	t.Helper()
	cfg, msgs, err := Load(context.Background(), fake.NewSimpleClientset(decode(t, manifests)...), nil, "")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(msgs) != 0 {
		t.Fatalf("Load messages: %v", msgs)
	}
	return cfg
}

// The shop: a frontend calling cart (port 80 → 8080, named http) in namespace
// shop, everything with sidecars unless a test changes it.
var (
	frontend = Workload{Namespace: "shop", Name: "frontend", Labels: map[string]string{"app": "frontend"},
		Mode: dataplane.Sidecar, ServiceAccount: "frontend"}
	cart = Workload{Namespace: "shop", Name: "cart", Labels: map[string]string{"app": "cart", "version": "v1"},
		Mode: dataplane.Sidecar, ServiceAccount: "cart"}
	cartHTTP = Port{Name: "http", Port: 80, TargetPort: "8080"}
	cartSvc  = Service{Namespace: "shop", Name: "cart", Ports: []Port{cartHTTP}, Selector: map[string]string{"app": "cart"}}
)

func withMode(w Workload, m dataplane.Mode) Workload {
	w.Mode = m
	return w
}

func codes(ms []diag.Message) []diag.Code {
	var out []diag.Code
	for _, m := range ms {
		out = append(out, m.Code)
	}
	return out
}

// pa builds a PeerAuthentication manifest; selector and ports are YAML snippets.
func pa(ns, name, created, spec string) string {
	return manifest("security.istio.io/v1", "PeerAuthentication", ns, name, created, spec)
}

// dr builds a DestinationRule manifest whose age does not matter.
func dr(ns, name, spec string) string {
	return manifest("networking.istio.io/v1", "DestinationRule", ns, name, t0, spec)
}

// vs builds a VirtualService manifest.
func vs(ns, name, created, spec string) string {
	return manifest("networking.istio.io/v1", "VirtualService", ns, name, created, spec)
}
