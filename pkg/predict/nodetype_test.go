package predict

import (
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// scaled returns a copy of p named name with every latency and CPU term
// multiplied by f.
func scaled(p *profile.Profile, name string, f float64) *profile.Profile {
	c := *p
	c.Metadata.Name = name
	c.Models = make([]profile.Model, len(p.Models))
	for i, m := range p.Models {
		for _, l := range []*profile.Linear{&m.LatencyP50Micros, &m.LatencyP99Micros, &m.CPUMicrosPerRequest} {
			l.Intercept *= f
			l.PerKiB *= f
		}
		c.Models[i] = m
	}
	return &c
}

func TestNodeTypeProfilesApplyPerWorkload(t *testing.T) {
	base := testProfile(t)
	big := scaled(base, "measured-on-big", 3)
	g := twoWorkloads(dataplane.Sidecar, dataplane.Sidecar,
		callgraph.Edge{MTLS: ptr(false), Protocol: "http", RequestsPerSecond: ptr(100.0), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)})
	g.Workloads[0].NodeType = "big"   // client's sidecar: the big profile
	g.Workloads[1].NodeType = "other" // server's: no profile for it, default
	r, err := callgraph.Resolve(g)
	if err != nil {
		t.Fatal(err)
	}
	var plain, typed diag.List
	want, err := Predict(r, base, Options{}, &plain)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Predict(r, base, Options{NodeProfiles: map[string]*profile.Profile{"big": big}}, &typed)
	if err != nil {
		t.Fatal(err)
	}
	// Symmetric test profile: each side contributes half; the client's
	// half is tripled, so the edge costs (1/2·3 + 1/2) = 2× the default.
	near(t, "p50", got.Edges[0].LatencyP50Micros, 2*want.Edges[0].LatencyP50Micros)
	near(t, "cpu", got.Edges[0].CPUMillicores, 2*want.Edges[0].CPUMillicores)
	var cpu = map[string]float64{}
	for _, p := range got.Proxies {
		cpu[p.Workload] = p.CPUMillicores
	}
	near(t, "client proxy cpu", cpu["default/client"], 3*cpu["default/server"])
	var used, missing bool
	for _, m := range typed.Sorted() {
		if m.Code != diag.NodeTypeProfile {
			continue
		}
		used = used || strings.Contains(m.Message, `"measured-on-big"`) && strings.Contains(m.Message, "default/client")
		missing = missing || strings.Contains(m.Message, "no profile for node type other") && strings.Contains(m.Message, "default/server")
	}
	if !used || !missing {
		t.Errorf("notes do not say which profile each node type used: %v", typed.Sorted())
	}
}
