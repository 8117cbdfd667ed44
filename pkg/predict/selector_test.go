package predict

import (
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

func bookinfoGraph(t *testing.T) *callgraph.Resolved {
	t.Helper()
	g, err := callgraph.ReadFile("../../examples/bookinfo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return resolved(t, g)
}

func TestSelectorsTakeServiceNames(t *testing.T) {
	g := bookinfoGraph(t)
	var notes diag.List
	v := Apply(g, []WhatIf{mustWhatIf(t, "protocol=grpc,edge=productpage->reviews")}, &notes)
	var changed []string
	for _, e := range v.Edges {
		if e.Protocol == dataplane.GRPC {
			changed = append(changed, v.Workloads[e.FromIndex].Name+"->"+v.Workloads[e.ToIndex].Name)
		}
	}
	want := "productpage-v1->reviews-v1 productpage-v1->reviews-v2 productpage-v1->reviews-v3"
	if got := strings.Join(changed, " "); got != want {
		t.Errorf("edge=productpage->reviews changed %q, want %q", got, want)
	}
	v = Apply(g, []WhatIf{mustWhatIf(t, "mode=ambient,workload=bookinfo/reviews")}, &notes)
	for _, wl := range v.Workloads {
		if want := strings.HasPrefix(wl.Name, "reviews-"); (wl.Mode == dataplane.Ambient) != want {
			t.Errorf("workload=bookinfo/reviews: %s is %s", wl.Name, wl.Mode)
		}
	}
	if notes.Len() != 0 {
		t.Errorf("notes: %v", notes.Sorted())
	}
}

func TestSelectorsUseListedServices(t *testing.T) {
	g := &callgraph.Graph{APIVersion: callgraph.APIVersion, Kind: callgraph.Kind,
		Workloads: []callgraph.Workload{{Name: "web", Mode: "sidecar"}, {Name: "api-blue", Mode: "sidecar"}, {Name: "api-v2", Mode: "sidecar"}},
		Edges: []callgraph.Edge{
			{From: "web", To: "api-blue", Protocol: "http", RequestsPerSecond: ptr(1.0), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)},
			{From: "web", To: "api-v2", Protocol: "http", RequestsPerSecond: ptr(1.0), RequestBytes: ptr(0.0), ResponseBytes: ptr(0.0)},
		},
		Services: []callgraph.Service{{Name: "api", Workloads: []string{"api-blue"}, Clusters: 1, Endpoints: 1}}}
	var notes diag.List
	v := Apply(resolved(t, g), []WhatIf{mustWhatIf(t, "mtls=off,edge=web->api")}, &notes)
	// The listed Service selects api-blue only: the naming convention is not used.
	if !v.Edges[0].MTLSExplicit || v.Edges[1].MTLSExplicit {
		t.Errorf("edge=web->api: %+v %+v", v.Edges[0], v.Edges[1])
	}
}

func TestSelectorMatchingNothingIsAnError(t *testing.T) {
	g := bookinfoGraph(t)
	for what, want := range map[string]string{
		"protocol=grpc,edge=productpage->reviewz": "edge=productpage->reviewz matches no edge of the graph (FROM and TO are workloads, namespace/workload or Services); edges: productpage-v1->details-v1",
		"mtls=off,workload=ratings-v9":            "workload=ratings-v9 matches no workload or Service of the graph; workloads: productpage-v1, details-v1",
		"mode=ambient,namespace=shop":             "namespace=shop has no workload of the graph; namespaces: bookinfo",
		"mtls=off,edge=details->productpage":      "matches no edge",
	} {
		_, err := Run(Input{Graph: g, Profile: testProfile(t), ProfileSource: "test", WhatIf: []WhatIf{mustWhatIf(t, what)}})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), what) {
			t.Errorf("%s: err = %v, want %q", what, err, want)
		}
	}
	if _, err := Run(Input{Graph: g, Profile: testProfile(t), ProfileSource: "test", WhatIf: []WhatIf{mustWhatIf(t, "mtls=off,workload=reviews")}}); err != nil {
		t.Errorf("a Service name: %v", err)
	}
}

func TestServiceOf(t *testing.T) {
	for workload, want := range map[string]string{"reviews-v1": "reviews", "reviews-v12": "reviews", "reviews": "", "my-svc-vx": "", "-v1": "", "api-v": ""} {
		if got := ServiceOf(workload); got != want {
			t.Errorf("ServiceOf(%q) = %q, want %q", workload, got, want)
		}
	}
}
