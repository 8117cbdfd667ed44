package callgraph

import (
	"slices"
	"testing"
)

func TestRestrict(t *testing.T) {
	g := &Graph{APIVersion: APIVersion, Kind: Kind,
		Workloads: []Workload{{Name: "front"}, {Name: "api", Namespace: "shop"}, {Name: "db", Namespace: "shop"}, {Name: "audit"}},
		Edges: []Edge{
			{From: "front", To: "shop/api"},
			{From: "shop/api", To: "db"},
			{From: "api", To: "audit"},
			{From: "front", To: "missing"},
		},
		Services: []Service{{Name: "front", Workloads: []string{"front"}}, {Name: "api", Namespace: "shop", Workloads: []string{"api"}}},
	}
	dropped := g.Restrict(func(w Workload) bool { return w.Namespace == "shop" })
	var names, droppedNames []string
	for _, w := range g.Workloads {
		names = append(names, w.ID())
	}
	for _, e := range dropped {
		droppedNames = append(droppedNames, e.Name())
	}
	if want := []string{"shop/api", "shop/db"}; !slices.Equal(names, want) {
		t.Errorf("workloads %v, want %v", names, want)
	}
	if len(g.Edges) != 1 || g.Edges[0].Name() != "shop/api->db" {
		t.Errorf("edges %v, want only shop/api->db", g.Edges)
	}
	if want := []string{"front->shop/api", "api->audit", "front->missing"}; !slices.Equal(droppedNames, want) {
		t.Errorf("dropped %v, want %v", droppedNames, want)
	}
	// The Services stay (what the sidecars see); front's no longer names
	// the workload left out.
	if len(g.Services) != 2 || len(g.Services[0].Workloads) != 0 || len(g.Services[1].Workloads) != 1 {
		t.Errorf("services %+v", g.Services)
	}
	if err := Validate(g); err != nil {
		t.Errorf("restricted graph invalid: %v", err)
	}
}
