package printers

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
)

// Geometry of the SVG picture, in pixels. Text is 12px sans-serif, whose
// characters svgCharWidth approximates to size boxes and the canvas.
const (
	svgMargin     = 24.0
	svgNodeHeight = 40.0
	svgRowGap     = 40.0
	svgColGap     = 200.0 // between layers: room for the edge labels
	svgCharWidth  = 7.0
	svgLineHeight = 16.0
	svgMinNode    = 110.0
	svgArc        = 60.0 // how far below its nodes a backward edge loops
	svgWrap       = 110  // characters per line of the title and messages
)

// svgNode is a workload placed on the picture: layer (call depth) and row.
type svgNode struct {
	id, label, sub string
	mode           dataplane.Mode
	x, y, w        float64
}

// svgLayout places the nodes of the shown edges: each in the layer of its
// call depth (the longest chain of calls from a workload nothing calls),
// layers left to right in the report's order, each centred vertically.
type svgLayout struct {
	nodes []*svgNode
	byID  map[string]*svgNode
	depth map[string]int
	// calls and callers count each node's edges out and in, to put an
	// edge's label at the end where fewer edges meet; labelled counts the
	// labels already put at a node's left (callee) or right (caller) side.
	calls, callers map[string]int
	labelled       map[svgSide]int
	width          float64 // right edge of the last layer
	height         float64 // bottom of the tallest layer
}

func newSVGLayout(v *view, shown []predict.EdgeResult, top float64) *svgLayout {
	l := &svgLayout{byID: map[string]*svgNode{}, depth: map[string]int{}, calls: map[string]int{}, callers: map[string]int{},
		labelled: map[svgSide]int{}}
	for _, e := range shown {
		for _, n := range []struct {
			id   string
			mode dataplane.Mode
		}{{e.From, e.ClientMode}, {e.To, e.ServerMode}} {
			if l.byID[n.id] == nil {
				sub := strings.TrimPrefix(sidecarMemoryLine(v.r, n.id), "\n")
				node := &svgNode{id: n.id, label: v.name(n.id), sub: sub, mode: n.mode}
				node.w = math.Max(svgMinNode, svgCharWidth*float64(max(utf8.RuneCountInString(node.label), utf8.RuneCountInString(sub)))+20)
				l.nodes = append(l.nodes, node)
				l.byID[n.id] = node
			}
		}
		l.calls[e.From]++
		if e.From != e.To {
			l.callers[e.To]++
		}
	}
	l.layer(shown)

	var layers [][]*svgNode
	for _, n := range l.nodes {
		d := l.depth[n.id]
		for len(layers) <= d {
			layers = append(layers, nil)
		}
		layers[d] = append(layers[d], n)
	}
	tallest := 0
	for _, layer := range layers {
		tallest = max(tallest, len(layer))
	}
	x := svgMargin
	for _, layer := range layers {
		w := 0.0
		for _, n := range layer {
			w = math.Max(w, n.w)
		}
		offset := float64(tallest-len(layer)) * (svgNodeHeight + svgRowGap) / 2
		for i, n := range layer {
			n.x = x + (w-n.w)/2
			n.y = top + offset + float64(i)*(svgNodeHeight+svgRowGap)
		}
		l.width = x + w
		x += w + svgColGap
	}
	l.height = top + float64(tallest)*(svgNodeHeight+svgRowGap) - svgRowGap
	return l
}

// layer sets each node's depth by longest-path layering: a depth-first
// search from the roots (then from any node a cycle keeps unreached) sets
// aside the edges that close a cycle; over the rest, in topological order,
// each node goes one layer right of its deepest caller.
func (l *svgLayout) layer(shown []predict.EdgeResult) {
	succ := map[string][]string{}
	for _, e := range shown {
		succ[e.From] = append(succ[e.From], e.To)
	}
	state := map[string]int{} // 0 unseen, 1 on the stack, 2 done
	back := map[[2]string]bool{}
	var post []string
	var dfs func(id string)
	dfs = func(id string) {
		state[id] = 1
		for _, to := range succ[id] {
			switch state[to] {
			case 0:
				dfs(to)
			case 1:
				back[[2]string{id, to}] = true
			}
		}
		state[id] = 2
		post = append(post, id)
	}
	for _, n := range l.nodes {
		if l.callers[n.id] == 0 && state[n.id] == 0 {
			dfs(n.id)
		}
	}
	for _, n := range l.nodes {
		if state[n.id] == 0 {
			dfs(n.id)
		}
	}
	for i := len(post) - 1; i >= 0; i-- {
		id := post[i]
		for _, to := range succ[id] {
			if !back[[2]string{id, to}] {
				l.depth[to] = max(l.depth[to], l.depth[id]+1)
			}
		}
	}
}

// svgSide is one side of a node: callee (left) or caller (right).
type svgSide struct {
	id     string
	caller bool
}

// svgDoc writes the elements of the picture to out and measures how far
// they reach. The picture is drawn twice: once to io.Discard for the
// canvas size the <svg> element declares, then to the output, as it goes.
type svgDoc struct {
	out           io.Writer
	width, height float64
}

// text writes one line of text at x, y (its baseline) and grows the canvas
// to hold it; anchor is start, middle or end.
func (d *svgDoc) text(x, y float64, anchor, attrs, s string) {
	fmt.Fprintf(d.out, `  <text x="%.1f" y="%.1f" text-anchor="%s"%s>%s</text>`+"\n", x, y, anchor, attrs, xmlEscape(s))
	w := svgCharWidth * float64(utf8.RuneCountInString(s))
	right := x + w
	switch anchor {
	case "middle":
		right = x + w/2
	case "end":
		right = x
	}
	d.width = math.Max(d.width, right+svgMargin)
	d.height = math.Max(d.height, y+svgMargin)
}

// lines writes wrapped text lines from y down and returns the y after them.
func (d *svgDoc) lines(y float64, attrs, s string, indent string) float64 {
	for _, line := range strings.Split(wrap(s, svgWrap, indent), "\n") {
		d.text(svgMargin, y, "start", attrs, line)
		y += svgLineHeight
	}
	return y
}

// printSVG draws the call graph as a self-contained SVG picture (no
// Graphviz needed): workloads layered by call depth, every edge with its
// protocol, rate and added p50 (and the what-if delta), coloured by
// latencyBands; then the legend, the totals and the assumptions and warnings.
func printSVG(buf io.Writer, r *predict.Report) error {
	fmt.Fprintln(buf, `<?xml version="1.0" encoding="UTF-8"?>`)
	return writeSVG(buf, r)
}

// printHTML wraps the SVG picture in a minimal HTML page, to open in a browser.
func printHTML(buf io.Writer, r *predict.Report) error {
	title := "meshinsight: " + r.Graph
	if r.Graph == "" {
		title = "meshinsight"
	}
	fmt.Fprintf(buf, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>%s</title>\n</head>\n<body>\n", xmlEscape(title))
	if err := writeSVG(buf, r); err != nil {
		return err
	}
	fmt.Fprintln(buf, "</body>\n</html>")
	return nil
}

func writeSVG(buf io.Writer, r *predict.Report) error {
	v := &view{r: r, ns: commonNamespace(r)}
	size := &svgDoc{out: io.Discard}
	size.draw(r, v)
	fmt.Fprintf(buf, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n",
		math.Ceil(size.width), math.Ceil(size.height), math.Ceil(size.width), math.Ceil(size.height))
	fmt.Fprintf(buf, "  <title>%s</title>\n", xmlEscape(strings.ReplaceAll(dotTitle(r, v.ns), "\n", "; ")))
	fmt.Fprintln(buf, "  <defs>")
	for _, b := range latencyBands {
		fmt.Fprintf(buf, `    <marker id="arrow-%s" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="%s"/></marker>`+"\n", b.colour, b.colour)
	}
	fmt.Fprintln(buf, "  </defs>")
	fmt.Fprintf(buf, `  <rect width="100%%" height="100%%" fill="white"/>`+"\n")
	(&svgDoc{out: buf}).draw(r, v)
	_, err := fmt.Fprintln(buf, "</svg>")
	return err
}

// draw writes the picture's elements: title, edge lines, nodes, edge labels
// (last, so that no line crosses them), legend, totals and messages.
func (d *svgDoc) draw(r *predict.Report, v *view) {
	baseEdges, shown := pictured(r)
	y := svgMargin + 4
	for _, line := range strings.Split(dotTitle(r, v.ns), "\n") {
		y = d.lines(y, ` font-weight="bold"`, line, "  ")
	}
	l := newSVGLayout(v, shown, y+svgLineHeight)
	d.width = math.Max(d.width, l.width+svgMargin)

	bottom := l.height
	for _, labels := range []bool{false, true} {
		if labels {
			for _, n := range l.nodes {
				d.node(n)
			}
		}
		clear(l.labelled)
		for i, e := range shown {
			var base *predict.EdgeResult
			if r.Variant != nil {
				base = &baseEdges[i]
			}
			bottom = math.Max(bottom, d.edge(l, e, base, labels))
		}
	}

	y = bottom + 2*svgLineHeight
	d.text(svgMargin, y, "start", ` font-weight="bold"`, "Added p50 per call (display thresholds):")
	x := svgMargin + 290
	for _, b := range latencyBands {
		fmt.Fprintf(d.out, `  <rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/>`+"\n", x, y-10, b.colour)
		d.text(x+16, y, "start", "", b.label())
		x += 16 + svgCharWidth*float64(utf8.RuneCountInString(b.label())) + 20
	}
	d.text(x, y, "start", "", "edge width: proxy CPU")
	y += 2 * svgLineHeight
	y = d.lines(y, "", svgTotals(r), "  ")
	if len(r.Messages) > 0 {
		y += svgLineHeight
		d.text(svgMargin, y, "start", ` font-weight="bold"`, "Assumptions and warnings:")
		y += svgLineHeight
		for _, m := range groupMessages(r.Messages) {
			y = d.lines(y, "", "  "+m, "    ")
		}
	}
}

// svgTotals is the report's totals in one line: proxy CPU and the slowest
// path's added latency, with the variant's beside the baseline's.
func svgTotals(r *predict.Report) string {
	b := r.Baseline.Totals
	if r.Variant == nil {
		return fmt.Sprintf("Totals: %s, %s req/s; proxy CPU %s; slowest path +%s p50, +%s p99",
			plural(b.Edges, "edge"), rate(b.RequestsPerSecond), millicores(b.CPUMillicores),
			micros(b.MaxPathLatencyP50Micros), micros(b.MaxPathLatencyP99Micros))
	}
	w := r.Variant.Totals
	return fmt.Sprintf("Totals: proxy CPU %s → %s (Δ %s); slowest path p50 +%s → +%s (Δ %s), p99 +%s → +%s (Δ %s)",
		millicores(b.CPUMillicores), millicores(w.CPUMillicores), signedMillicores(w.CPUMillicores-b.CPUMillicores),
		micros(b.MaxPathLatencyP50Micros), micros(w.MaxPathLatencyP50Micros), signedMicros(w.MaxPathLatencyP50Micros-b.MaxPathLatencyP50Micros),
		micros(b.MaxPathLatencyP99Micros), micros(w.MaxPathLatencyP99Micros), signedMicros(w.MaxPathLatencyP99Micros-b.MaxPathLatencyP99Micros))
}

// node draws a workload: a box for a sidecar, a rounded box for ambient
// (a thick one with a waypoint), a dashed box without a proxy.
func (d *svgDoc) node(n *svgNode) {
	rx, style := 4.0, ` stroke="#333" stroke-width="1.5"`
	switch n.mode {
	case dataplane.Ambient:
		rx = svgNodeHeight / 2
	case dataplane.Waypoint:
		rx, style = svgNodeHeight/2, ` stroke="#333" stroke-width="3"`
	case dataplane.None:
		style = ` stroke="#333" stroke-width="1.5" stroke-dasharray="5,3"`
	}
	fmt.Fprintf(d.out, `  <g><title>%s (%s)</title>`+"\n", xmlEscape(n.id), xmlEscape(string(n.mode)))
	fmt.Fprintf(d.out, `  <rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="%.1f" fill="white"%s/>`+"\n", n.x, n.y, n.w, svgNodeHeight, rx, style)
	cx := n.x + n.w/2
	if n.sub == "" {
		d.text(cx, n.y+svgNodeHeight/2+4, "middle", "", n.label)
	} else {
		d.text(cx, n.y+svgNodeHeight/2-3, "middle", "", n.label)
		d.text(cx, n.y+svgNodeHeight/2+12, "middle", ` font-size="10" fill="#555"`, n.sub)
	}
	fmt.Fprintln(d.out, "  </g>")
}

// edge draws one call's line, or with labels its label, and returns the
// lowest y the label reaches. A
// call to a deeper layer is a curve from the caller's right side to the
// callee's left, labelled above its end where fewer edges meet (beside the
// callee unless several calls converge on it); any other call (a cycle, a
// call within a layer, a self-call) loops below the two nodes, labelled
// under the loop. base is the baseline of a variant's edge.
func (d *svgDoc) edge(l *svgLayout, e predict.EdgeResult, base *predict.EdgeResult, labels bool) float64 {
	from, to := l.byID[e.From], l.byID[e.To]
	colour := latencyColour(e.LatencyP50Micros)
	var path, anchor string
	var lx, ly float64
	if l.depth[e.To] > l.depth[e.From] {
		x1, y1 := from.x+from.w, from.y+svgNodeHeight/2
		x2, y2 := to.x, to.y+svgNodeHeight/2
		c := (x2 - x1) / 2
		path = fmt.Sprintf("M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f", x1, y1, x1+c, y1, x2-c, y2, x2, y2)
		// The first label at a side sits above the edge's end; more at
		// the same side go along their curves, away from it.
		side := svgSide{e.To, false}
		anchor, lx, ly = "end", x2-10, y2-19
		if l.callers[e.To] > 1 && l.callers[e.To] > l.calls[e.From] {
			side = svgSide{e.From, true}
			anchor, lx, ly = "start", x1+6, y1-19
		}
		if k := l.labelled[side]; k > 0 {
			t := math.Max(0.2, 0.85-0.2*float64(k))
			if side.caller {
				t = 1 - t
			}
			anchor = "middle"
			lx, ly = bezier(t, x1, x1+c, x2-c, x2), bezier(t, y1, y1, y2, y2)-19
		}
		l.labelled[side]++
	} else {
		x1, x2 := from.x+from.w/3, to.x+2*to.w/3
		if from == to {
			x2 = from.x + 2*from.w/3
		}
		y1, y2 := from.y+svgNodeHeight, to.y+svgNodeHeight
		path = fmt.Sprintf("M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f", x1, y1, x1, y1+svgArc, x2, y2+svgArc, x2, y2)
		anchor, lx, ly = "middle", (x1+x2)/2, (y1+y2)/2+svgArc*3/4+14
	}
	width := 1.5
	if e.CPUMillicores > 0 {
		// Proxy CPU widens the line, a little, by orders of magnitude.
		width = math.Min(6, 1.5+math.Max(0, math.Log10(e.CPUMillicores)))
	}
	proto := string(e.Protocol)
	line2 := "+" + micros(e.LatencyP50Micros) + " p50"
	if base != nil {
		proto = change(base.Protocol, e.Protocol)
		line2 += " (Δ " + signedMicros(e.LatencyP50Micros-base.LatencyP50Micros) + ")"
	}
	if !labels {
		fmt.Fprintf(d.out, `  <path d="%s" fill="none" stroke="%s" stroke-width="%.2f" marker-end="url(#arrow-%s)"><title>%s</title></path>`+"\n",
			path, colour, width, colour, xmlEscape(e.From+" -> "+e.To))
		return ly + 13
	}
	halo := ` stroke="white" stroke-width="3" paint-order="stroke"`
	d.text(lx, ly, anchor, ` font-size="11"`+halo, proto+" "+rate(e.RequestsPerSecond)+" req/s")
	d.text(lx, ly+13, anchor, ` font-size="11" font-weight="bold" fill="`+colour+`"`+halo, line2)
	return ly + 13
}

// bezier is one coordinate at t of the cubic Bézier curve p0, p1, p2, p3.
func bezier(t, p0, p1, p2, p3 float64) float64 {
	u := 1 - t
	return u*u*u*p0 + 3*u*u*t*p1 + 3*u*t*t*p2 + t*t*t*p3
}

// xmlEscape makes s safe as XML text or a double-quoted attribute value.
func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder does not fail
	return b.String()
}
