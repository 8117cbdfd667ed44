package printers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	yaml3 "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
)

// longReport has many edges, ingress, names and messages long enough for
// yaml to fold them at every depth, and characters JSON escapes.
func longReport(edges int) *predict.Report {
	r := whatIfReport()
	long := strings.Repeat("a rather long message about <assumptions> & defaults ", 4)
	for i := range edges {
		e := r.Baseline.Edges[i%len(r.Baseline.Edges)]
		e.From = fmt.Sprintf("shop/caller-%d-%s", i, strings.Repeat("x", i%90))
		e.TopComponent = long[:i%len(long)]
		r.Baseline.Edges = append(r.Baseline.Edges, e)
		r.Variant.Edges = append(r.Variant.Edges, e)
	}
	in := r.Baseline.Edges[0]
	in.From = "shop/(outside)"
	r.Baseline.Ingress = []predict.EdgeResult{in}
	r.Variant.Ingress = []predict.EdgeResult{in}
	r.Messages = append(r.Messages, diag.New(diag.DefaultUsed, strings.Repeat("s", 70), "%s", long))
	r.Graph = long
	return r
}

// The streaming JSON encoder writes what encoding/json writes for the whole
// report, byte for byte; the YAML writer writes a document that decodes
// (by yaml.v2 as sigs.k8s.io/yaml uses it, and by yaml.v3) to the same data.
func TestStreamingEncodersMatchTheLibraries(t *testing.T) {
	for name, r := range map[string]*predict.Report{"baseline": baselineReport(), "whatif": whatIfReport(), "long": longReport(200), "strings": oddStrings()} {
		t.Run(name, func(t *testing.T) {
			wantJSON, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := Print(&got, r, JSON); err != nil {
				t.Fatal(err)
			}
			if got.String() != string(wantJSON)+"\n" {
				t.Errorf("JSON differs from json.MarshalIndent:\n%s", firstDifference(got.String(), string(wantJSON)+"\n"))
			}
			got.Reset()
			if err := Print(&got, r, YAML); err != nil {
				t.Fatal(err)
			}
			sameData(t, got.Bytes(), wantJSON)
		})
	}
}

// oddStrings is a report whose names need quoting in YAML, or look like
// other types, or hold what is not printable.
func oddStrings() *predict.Report {
	r := baselineReport()
	odd := []string{"", " lead", "trail ", "yes", "No", "null", "~", "1.5", "0x1F", "-dash", "- item", "a: b", "a:b", "ends:",
		"a #b", "a#b", "#start", "'quote", `"dq"`, `it's "x"`, "new\nline", "tab\there", "esc\x1b[2J", "nel\u0085", "ls\u2028",
		"bom\ufeff", "bad\xffutf8", "ünïcode 日本", "[flow]", "{x}", "@at", "`tick`", "|pipe", ">fold", "%pct", "&anchor", "*alias",
		"!tag", "?q", "<<", "=", ".inf", ".nan", ".5", "./rel", "../up", ".hidden", "2026-12-03", "1:30", "on", "OFF", "y", "true_story"}
	r.Messages = nil
	for _, s := range odd {
		r.Messages = append(r.Messages, diag.New(diag.DefaultUsed, s, "%s", s))
	}
	r.Graph = strings.Join(odd, " ")
	r.Baseline.Edges[0].RequestsPerSecond = 1e21
	r.Baseline.Edges[0].RequestBytes = 1.5e-7
	r.Baseline.Edges[0].ResponseBytes = 123456789012345678
	return r
}

// sameData fails unless the YAML document decodes, with yaml.v2 (through
// sigs.k8s.io/yaml) and with yaml.v3, to the data of the JSON document.
func sameData(t *testing.T, doc, wantJSON []byte) {
	t.Helper()
	var want any
	if err := json.Unmarshal(wantJSON, &want); err != nil {
		t.Fatal(err)
	}
	v2, err := sigsyaml.YAMLToJSON(doc)
	if err != nil {
		t.Fatalf("yaml.v2 cannot read the document: %v\n%s", err, doc)
	}
	var v3 any
	if err := yaml3.Unmarshal(doc, &v3); err != nil {
		t.Fatalf("yaml.v3 cannot read the document: %v\n%s", err, doc)
	}
	v3JSON, err := json.Marshal(v3)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{"yaml.v2": v2, "yaml.v3": v3JSON} {
		var data any
		if err := json.Unmarshal(got, &data); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(data, want) {
			g, _ := json.MarshalIndent(data, "", "  ")
			w, _ := json.MarshalIndent(want, "", "  ")
			t.Errorf("%s reads the YAML as other data:\n%s", name, firstDifference(string(g), string(w)))
		}
	}
}

func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d:\n got  %q\n want %q", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(g), len(w))
}

// largestWrite records the largest single write.
type largestWrite struct{ n, total int }

func (l *largestWrite) Write(p []byte) (int, error) {
	l.n, l.total = max(l.n, len(p)), l.total+len(p)
	return len(p), nil
}

// Issue #13 item 10: reports are written as they are encoded, in pieces
// of the write buffer, never built whole in memory first.
func TestPrintStreams(t *testing.T) {
	r := longReport(5000)
	for _, f := range Formats {
		w := &largestWrite{}
		if err := Print(w, r, f); err != nil {
			t.Fatal(err)
		}
		if w.total <= writeBuffer || w.n > writeBuffer {
			t.Errorf("%s: %d bytes written, largest write %d bytes, want pieces of at most %d", f, w.total, w.n, writeBuffer)
		}
	}
}

// Issue #13 item 8: a report with an impossible figure is an error, and
// nothing is written.
func TestPrintRefusesImpossibleFigures(t *testing.T) {
	for _, f := range Formats {
		r := baselineReport()
		r.Baseline.Edges[1].CPUMillicores = math.Inf(1)
		var buf bytes.Buffer
		err := Print(&buf, r, f)
		if err == nil || !strings.Contains(err.Error(), "edge shop/cart->shop/redis: cpuMillicores is +Inf") || buf.Len() > 0 {
			t.Errorf("%s: err = %v, wrote %d bytes", f, err, buf.Len())
		}
	}
	var buf bytes.Buffer
	if err := Print(&buf, baselineReport(), JSON); err != nil {
		t.Fatal(err)
	}
	if err := Print(io.Discard, baselineReport(), YAML); err != nil {
		t.Fatal(err)
	}
}

// indentJSON indents as json.MarshalIndent does, strings with brackets,
// commas, colons and escaped quotes included.
func TestIndentJSONMatchesTheLibrary(t *testing.T) {
	for _, v := range []any{
		map[string]any{"a": []any{}, "b": map[string]any{}, "c": `q"uo{te}:[,]\`, "d": []any{1.5, "x", nil, true, map[string]any{"e": []any{[]any{}}}}},
		[]any{}, "plain", 42.0, longReport(3),
	} {
		compact, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.MarshalIndent(v, "    ", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if got := indentJSON(nil, compact, "    ", "  "); string(got) != string(want) {
			t.Errorf("indentJSON:\n%s\nwant:\n%s", firstDifference(string(got), string(want)), want)
		}
	}
}

// byteCounter counts what is written to it.
type byteCounter struct{ n int }

func (c *byteCounter) Write(p []byte) (int, error) {
	c.n += len(p)
	return len(p), nil
}

// Issue #13 item 10: printing allocates a small multiple of what it
// writes. YAML through sigs.k8s.io/yaml (JSON text parsed back into maps,
// then encoded) allocated 140 bytes per byte written; -o yaml of 100,000
// edges took a minute and 9.7 GB.
func TestPrintAllocatesLittle(t *testing.T) {
	r := longReport(5000)
	for f, most := range map[Format]float64{JSON: 4, YAML: 16, Table: 40} {
		var before, after runtime.MemStats
		out := &byteCounter{}
		runtime.GC()
		runtime.ReadMemStats(&before)
		if err := Print(out, r, f); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if ratio := float64(after.TotalAlloc-before.TotalAlloc) / float64(out.n); ratio > most {
			t.Errorf("-o %s allocated %.1f bytes per byte written, want at most %g", f, ratio, most)
		}
	}
}

// The YAML writer lays out any nesting: sequences in sequences, mappings
// in sequences, empty ones, nulls, values that marshal themselves.
func TestYAMLNesting(t *testing.T) {
	v := map[string]any{
		"lists":  []any{[]any{1, []any{"a", "b"}, []any{}}, map[string]any{"k": []any{map[string]any{}}, "z": nil}, []int(nil)},
		"empty":  map[string]int{},
		"when":   time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC),
		"number": json.Number("1.50"),
		"bytes":  []byte("hi"),
		"nested": map[string]map[string][]string{"a": {"b": {"c", "yes"}}},
	}
	var got bytes.Buffer
	if err := printYAML(&got, v); err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	sameData(t, got.Bytes(), want)
}
