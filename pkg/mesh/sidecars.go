package mesh

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	netapi "istio.io/api/networking/v1alpha3"
	netv1 "istio.io/client-go/pkg/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// SidecarPlan is a Sidecar resource to create: one workload's egress
// narrowed to a list of hosts.
type SidecarPlan struct {
	Namespace, Name string
	// Selector is the workload's pod labels (its workloadSelector).
	Selector map[string]string
	// Hosts are egress hosts, "namespace/fqdn"; NoHosts imports nothing.
	Hosts []string
	// Comment is written above the resource: what it scopes and why.
	Comment string
}

// NoHosts is the egress of a sidecar that calls nothing: "~" is no
// namespace, so nothing is imported.
var NoHosts = []string{"~/*"}

// ManagedByLabel marks the Sidecar resources this tool writes.
const ManagedByLabel = "app.kubernetes.io/managed-by"

// RenderSidecars writes plans as YAML documents of networking.istio.io/v1
// Sidecars, each after its comment, the whole after header comment lines.
func RenderSidecars(plans []SidecarPlan, header []string) ([]byte, error) {
	var b bytes.Buffer
	for _, h := range header {
		fmt.Fprintf(&b, "# %s\n", h)
	}
	for _, p := range plans {
		sc := netv1.Sidecar{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "Sidecar"},
			ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: map[string]string{ManagedByLabel: "kubectl-meshinsight"}},
		}
		sc.Spec.WorkloadSelector = &netapi.WorkloadSelector{Labels: maps.Clone(p.Selector)}
		sc.Spec.Egress = []*netapi.IstioEgressListener{{Hosts: slices.Clone(p.Hosts)}}
		doc, err := sigsyaml.Marshal(&sc)
		if err != nil {
			return nil, fmt.Errorf("encoding Sidecar %s/%s: %w", p.Namespace, p.Name, err)
		}
		// Creation time and status belong to the server.
		doc = bytes.ReplaceAll(doc, []byte("  creationTimestamp: null\n"), nil)
		doc = bytes.ReplaceAll(doc, []byte("status: {}\n"), nil)
		b.WriteString("---\n")
		if p.Comment != "" {
			fmt.Fprintf(&b, "# %s\n", p.Comment)
		}
		b.Write(doc)
	}
	return b.Bytes(), nil
}

// WorkloadSidecar names the Sidecar resource whose workloadSelector picks
// w, if one does (Istio applies the oldest; a second one conflicts).
func (c *Config) WorkloadSidecar(w Workload) (string, bool) {
	c = c.orEmpty()
	for _, s := range c.sidecars {
		if s.namespace == w.Namespace && s.selector != nil && labelsMatch(s.selector, w.Labels) {
			return s.objMeta.id(), true
		}
	}
	return "", false
}
