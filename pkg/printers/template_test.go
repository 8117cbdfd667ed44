package printers

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestTemplates(t *testing.T) {
	r := baselineReport()
	n := fmt.Sprint(len(r.Baseline.Edges))
	for _, c := range []struct{ output, want string }{
		{"jsonpath={.graph}", "shop"},
		{"jsonpath=.graph", "shop"}, // kubectl's shorthand
		{`jsonpath={range .baseline.edges[*]}{.from}{"\n"}{end}`, "shop/frontend\n"},
		{"go-template={{len .baseline.edges}}", n},
	} {
		tmpl, ok, err := ParseTemplate(c.output)
		if err != nil || !ok {
			t.Fatalf("%s: ok %v, %v", c.output, ok, err)
		}
		var buf bytes.Buffer
		if err := tmpl.Print(&buf, r); err != nil {
			t.Fatalf("%s: %v", c.output, err)
		}
		if !strings.HasPrefix(buf.String(), c.want) {
			t.Errorf("%s printed %q, want it to start with %q", c.output, buf.String(), c.want)
		}
	}
	if _, ok, err := ParseTemplate("json"); ok || err != nil {
		t.Errorf("json taken for a template: %v %v", ok, err)
	}
	for _, bad := range []string{"jsonpath={.a", "go-template={{.a"} {
		if _, _, err := ParseTemplate(bad); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
	// A missing field is an error, and nothing is written.
	tmpl, _, _ := ParseTemplate("go-template={{.nosuchfield}}")
	var buf bytes.Buffer
	if err := tmpl.Print(&buf, r); err == nil || buf.Len() != 0 {
		t.Errorf("missing field: %v, wrote %q", err, buf.String())
	}
}
