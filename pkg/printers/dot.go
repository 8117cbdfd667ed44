package printers

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
	"github.com/meshinsight/kubectl-meshinsight/pkg/safetext"
)

// Edge width in DOT goes from 1 to 5 with the edge's share of the largest
// edge CPU in the report (baseline and variant alike). Colours are
// latencyBands.
const (
	dotMinPen = 1.0
	dotMaxPen = 5.0
)

// Node shapes by data-plane mode: sidecar a box, ambient an ellipse, ambient with a
// waypoint a double ellipse, no proxy a dashed box.
var dotNodeStyle = map[dataplane.Mode]string{
	dataplane.Sidecar:  "shape=box",
	dataplane.Ambient:  "shape=ellipse",
	dataplane.Waypoint: "shape=ellipse, peripheries=2",
	dataplane.None:     "shape=box, style=dashed",
}

// printDot writes the call graph as a Graphviz digraph, with the variant's figures
// when there is one. Nodes and edges keep the report's order.
func printDot(buf io.Writer, r *predict.Report) error {
	v := &view{r: r, ns: commonNamespace(r)}
	base, shown := pictured(r)
	var maxCPU float64
	for _, sc := range scenarios(r) {
		for _, e := range edgesOf(sc) {
			maxCPU = math.Max(maxCPU, e.CPUMillicores)
		}
	}

	name := r.Graph
	if name == "" {
		name = "meshinsight"
	}
	fmt.Fprintf(buf, "digraph %s {\n", dotQuote(name))
	fmt.Fprintf(buf, "  label=%s;\n", dotQuote(dotTitle(r, v.ns)))
	fmt.Fprintln(buf, "  labelloc=t;")
	fmt.Fprintln(buf, "  rankdir=LR;")
	fmt.Fprintln(buf, `  node [fontname="Helvetica"];`)
	fmt.Fprintln(buf, `  edge [fontname="Helvetica", fontsize=10];`)

	var nodes []string
	modes := map[string]dataplane.Mode{}
	for _, e := range shown {
		for _, n := range []struct {
			id   string
			mode dataplane.Mode
		}{{e.From, e.ClientMode}, {e.To, e.ServerMode}} {
			if !slices.Contains(nodes, n.id) {
				nodes = append(nodes, n.id)
				modes[n.id] = n.mode
			}
		}
	}
	for _, id := range nodes {
		style, ok := dotNodeStyle[modes[id]]
		if !ok {
			style = "shape=box"
		}
		fmt.Fprintf(buf, "  %s [label=%s, %s];\n", dotQuote(id), dotQuote(v.name(id)+sidecarMemoryLine(r, id)), style)
	}

	for i, e := range shown {
		label := rate(e.RequestsPerSecond) + " req/s\n+" + micros(e.LatencyP50Micros) + " p50"
		proto := string(e.Protocol)
		if r.Variant != nil {
			b := base[i]
			proto = change(b.Protocol, e.Protocol)
			label += " (Δ " + signedMicros(e.LatencyP50Micros-b.LatencyP50Micros) + ")"
		}
		colour := latencyColour(e.LatencyP50Micros)
		fmt.Fprintf(buf, "  %s -> %s [label=%s, color=%s, fontcolor=%s, penwidth=%.2f];\n",
			dotQuote(e.From), dotQuote(e.To), dotQuote(proto+" "+label), colour, colour, penWidth(e.CPUMillicores, maxCPU))
	}
	dotLegend(buf)
	fmt.Fprintln(buf, "}")
	return nil
}

func dotTitle(r *predict.Report, ns string) string {
	t := "Added latency per call, profile " + r.Profile.Name
	if ns != "" {
		t += ", namespace " + ns
	}
	if r.Variant != nil {
		t += "\nwhat-if: " + strings.Join(r.WhatIf, "; ")
	}
	return t
}

// dotLegend writes the colour scale as a box of its own, and says what the
// edge width means.
func dotLegend(buf io.Writer) {
	fmt.Fprintln(buf, "  subgraph cluster_legend {")
	fmt.Fprintln(buf, `    label="Added p50 per call (display thresholds)"; fontsize=10; style=dashed;`)
	for _, b := range latencyBands {
		fmt.Fprintf(buf, "    %s [label=%s, shape=box, style=filled, fillcolor=%s, fontcolor=white, fontsize=10];\n",
			dotQuote("legend "+b.colour), dotQuote(b.label()), b.colour)
	}
	fmt.Fprintln(buf, `    "legend width" [label="edge width: proxy CPU", shape=plaintext, fontsize=10];`)
	fmt.Fprintln(buf, "  }")
}

// penWidth scales cpu linearly between dotMinPen and dotMaxPen relative to max.
func penWidth(cpu, max float64) float64 {
	if max <= 0 {
		return dotMinPen
	}
	return dotMinPen + (dotMaxPen-dotMinPen)*cpu/max
}

// dotQuote renders s as a DOT double-quoted string; newlines become centred
// line breaks, other control characters escapes (see safetext).
func dotQuote(s string) string {
	return `"` + safetext.Escape(dotEscaper.Replace(s)) + `"`
}

var dotEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
