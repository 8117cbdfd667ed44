package printers

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
)

// wellFormed parses doc as XML to the end.
func wellFormed(t *testing.T, doc []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = true
	dec.Entity = xml.HTMLEntity
	for {
		if _, err := dec.Token(); errors.Is(err, io.EOF) {
			return
		} else if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, doc)
		}
	}
}

// TestSVGEscapesText draws names and messages full of XML's special
// characters: the picture stays well-formed and shows them as text.
func TestSVGEscapesText(t *testing.T) {
	r := baselineReport()
	r.Graph = `shop <"prod"> & co`
	r.Baseline.Edges[0].From = `shop/front<end>`
	r.Baseline.Edges[1].To = `shop/re"dis'&`
	r.Messages = append(r.Messages, diag.New(diag.DefaultUsed, "x", `<script>alert("x")</script> & more`))
	for _, f := range []Format{SVG, HTML} {
		var buf bytes.Buffer
		if err := Print(&buf, r, f); err != nil {
			t.Fatal(err)
		}
		out := buf.Bytes()
		if f == SVG {
			wellFormed(t, out)
		} else {
			_, svg, _ := strings.Cut(buf.String(), "<body>\n")
			svg, _, _ = strings.Cut(svg, "</body>")
			wellFormed(t, []byte(svg))
		}
		for _, bad := range []string{"<script", "front<end>", `re"dis`} {
			if bytes.Contains(out, []byte(bad)) {
				t.Errorf("%s: unescaped %q", f, bad)
			}
		}
		for _, want := range []string{"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more", "front&lt;end&gt;", "Assumptions and warnings:", "display thresholds"} {
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("%s: %q missing", f, want)
			}
		}
	}
}

// TestSVGLayersByCallDepth checks the layout: callers left of callees, a
// cycle drawn (not looped forever), and the what-if delta on the edges.
func TestSVGLayersByCallDepth(t *testing.T) {
	r := whatIfReport()
	var buf bytes.Buffer
	if err := Print(&buf, r, SVG); err != nil {
		t.Fatal(err)
	}
	wellFormed(t, buf.Bytes())
	x := map[string]float64{}
	v := &view{r: r, ns: commonNamespace(r)}
	l := newSVGLayout(v, r.Variant.Edges, 0)
	for _, n := range l.nodes {
		x[n.id] = n.x
	}
	for _, e := range r.Variant.Edges {
		if x[e.From] >= x[e.To] {
			t.Errorf("%s -> %s: caller at x=%v, callee at x=%v", e.From, e.To, x[e.From], x[e.To])
		}
	}
	if !strings.Contains(buf.String(), "(Δ -440µs)") || !strings.Contains(buf.String(), "Totals: proxy CPU") {
		t.Errorf("what-if deltas or totals missing:\n%s", buf.String())
	}

	// A cycle with no entry: every node placed, the back edge looping below.
	cyc := []predict.EdgeResult{{From: "a", To: "b", LatencyP50Micros: 50}, {From: "b", To: "a", LatencyP50Micros: 600}, {From: "b", To: "b"}}
	l = newSVGLayout(&view{r: &predict.Report{}}, cyc, 0)
	if len(l.nodes) != 2 || l.depth["a"] != 0 || l.depth["b"] != 1 {
		t.Errorf("cycle layout: %d nodes, depths %v", len(l.nodes), l.depth)
	}
	var out bytes.Buffer
	d := &svgDoc{out: &out}
	d.edge(l, cyc[1], nil, false)
	if low := d.edge(l, cyc[1], nil, true); low <= svgNodeHeight+svgArc/2 {
		t.Errorf("back edge label at y=%v: should loop below the nodes", low)
	}
	if !strings.Contains(out.String(), `stroke="firebrick"`) || !strings.Contains(out.String(), "+600µs p50") {
		t.Errorf("back edge:\n%s", out.String())
	}
}
