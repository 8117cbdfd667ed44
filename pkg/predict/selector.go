package predict

import (
	"fmt"
	"sort"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
)

// selection is what a what-if's selector picks in one graph, by workload
// index: every workload (no selector), the workloads named (workload= or
// namespace=), or the calls between two sets of them (edge=).
type selection struct {
	all       bool
	edge      bool
	workloads []bool
	from, to  []bool
}

// selection resolves w's selector in g.
func (w WhatIf) selection(g *callgraph.Resolved) selection {
	switch {
	case w.Edge != "":
		f, t, _ := strings.Cut(w.Edge, "->")
		return selection{edge: true, from: named(g, f), to: named(g, t)}
	case w.Workload != "":
		return selection{workloads: named(g, w.Workload)}
	case w.Namespace != "":
		s := selection{workloads: make([]bool, len(g.Workloads))}
		for i, wl := range g.Workloads {
			s.workloads[i] = wl.Namespace == w.Namespace
		}
		return s
	}
	return selection{all: true}
}

// workload reports whether the selection picks workload i; an edge
// selector picks no workload.
func (s selection) workload(i int) bool {
	return s.all || (!s.edge && s.workloads[i])
}

// call reports whether the selection picks edge e: a workload selector
// picks the edges touching its workloads.
func (s selection) call(e callgraph.ResolvedEdge) bool {
	if s.edge {
		return s.from[e.FromIndex] && s.to[e.ToIndex]
	}
	return s.workload(e.FromIndex) || s.workload(e.ToIndex)
}

// empty reports whether the selection picks nothing in g.
func (s selection) empty(g *callgraph.Resolved) bool {
	if s.all {
		return false
	}
	if s.edge {
		for _, e := range g.Edges {
			if s.call(e) {
				return false
			}
		}
		return true
	}
	for i := range g.Workloads {
		if s.workloads[i] {
			return false
		}
	}
	return true
}

// named marks the workloads that name ("name" in any namespace, or
// "namespace/name") picks: the workload itself, or the workloads behind a
// Service of that name — the graph's Services when it lists them, else by
// Istio's convention that workload NAME-vN (app and version labels) serves
// Service NAME, so "reviews" picks reviews-v1, reviews-v2 and reviews-v3.
func named(g *callgraph.Resolved, name string) []bool {
	picked := make([]bool, len(g.Workloads))
	ns, short, qualified := strings.Cut(name, "/")
	if !qualified {
		ns, short = "", name
	}
	for i, wl := range g.Workloads {
		if name == wl.ID() || name == wl.Name {
			picked[i] = true
		} else if !g.ServicesListed && (ns == "" || ns == wl.Namespace) && ServiceOf(wl.Name) == short {
			picked[i] = true
		}
	}
	if g.ServicesListed {
		for _, s := range g.Services {
			sns, sname, _ := strings.Cut(s.ID, "/")
			if sname == short && (ns == "" || ns == sns) {
				for _, i := range s.Workloads {
					picked[i] = true
				}
			}
		}
	}
	return picked
}

// ServiceOf is the Service a workload called NAME-vN serves by Istio's
// naming convention (reviews-v2 → reviews), else "": what a what-if
// selector may name instead of the workload.
func ServiceOf(workload string) string {
	base, version, ok := cutLast(workload, "-v")
	if !ok || base == "" || version == "" || strings.Trim(version, "0123456789") != "" {
		return ""
	}
	return base
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// CheckSelectors returns an error for the first what-if whose selector
// picks nothing in g, naming the selector and the names it could use: a
// change that silently does nothing would print a variant equal to the
// baseline.
func CheckSelectors(g *callgraph.Resolved, changes []WhatIf) error {
	for _, w := range changes {
		if !w.selection(g).empty(g) {
			continue
		}
		switch {
		case w.Edge != "":
			return fmt.Errorf("what-if %q: edge=%s matches no edge of the graph (FROM and TO are workloads, namespace/workload or Services); edges: %s",
				w.Raw, w.Edge, suggest(edgeNames(g)))
		case w.Workload != "":
			return fmt.Errorf("what-if %q: workload=%s matches no workload or Service of the graph; workloads: %s",
				w.Raw, w.Workload, suggest(workloadNames(g)))
		default:
			return fmt.Errorf("what-if %q: namespace=%s has no workload of the graph; namespaces: %s",
				w.Raw, w.Namespace, suggest(namespaceNames(g)))
		}
	}
	return nil
}

// suggest lists names, at most eight of them.
func suggest(names []string) string {
	const most = 8
	if len(names) > most {
		return strings.Join(names[:most], ", ") + fmt.Sprintf(" and %d more", len(names)-most)
	}
	return strings.Join(names, ", ")
}

func edgeNames(g *callgraph.Resolved) []string {
	names := make([]string, 0, len(g.Edges))
	for _, e := range g.Edges {
		names = append(names, g.Workloads[e.FromIndex].Name+"->"+g.Workloads[e.ToIndex].Name)
	}
	return names
}

func workloadNames(g *callgraph.Resolved) []string {
	names := make([]string, 0, len(g.Workloads))
	for _, wl := range g.Workloads {
		names = append(names, wl.Name)
	}
	return names
}

func namespaceNames(g *callgraph.Resolved) []string {
	seen := map[string]bool{}
	var names []string
	for _, wl := range g.Workloads {
		if !seen[wl.Namespace] {
			seen[wl.Namespace] = true
			names = append(names, wl.Namespace)
		}
	}
	sort.Strings(names)
	return names
}
