package callgraph

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
)

func TestParseExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		g, err := ReadFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if _, err := Resolve(g); err != nil {
			t.Errorf("%s: resolve: %v", f, err)
		}
		for _, format := range []string{"yaml", "json"} {
			b, err := Marshal(g, format)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(f+"."+format, b)
			if err != nil {
				t.Fatalf("%s round trip via %s: %v", f, format, err)
			}
			if !reflect.DeepEqual(g, back) {
				t.Errorf("%s round trip via %s changed the graph", f, format)
			}
		}
	}
}

// TestParseErrorsNameLineAndField checks that every problem in a bad file is
// reported at once, with its line and field path.
func TestParseErrorsNameLineAndField(t *testing.T) {
	cases := []struct {
		file string
		want []string
	}{
		{"bad-fields.yaml", []string{
			`testdata/bad-fields.yaml:7:5: workloads[1].mode: unknown data-plane mode "sidcar"`,
			`testdata/bad-fields.yaml:8:5: workloads[2].name: duplicate workload "default/a" (also workloads[0])`,
			`testdata/bad-fields.yaml:11:5: edges[0].to: unknown workload "c"`,
			`testdata/bad-fields.yaml:12:5: edges[0].protocol: unknown protocol "htp"`,
			`testdata/bad-fields.yaml:13:5: edges[0].requestsPerSecond: must not be below 0, got -5`,
			`testdata/bad-fields.yaml:17:5: edges[1].bytesPerSecond: only valid for tcp edges`,
		}},
		{"unknown-field.yaml", []string{`testdata/unknown-field.yaml:8:5: edges[0].rps: unknown field "rps"`}},
		{"wrong-type.json", []string{`testdata/wrong-type.json:6:30: edges[0].requestsPerSecond: wrong type: got str "fast", want a number`}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			_, err := ReadFile(filepath.Join("testdata", c.file))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	head := "apiVersion: meshinsight.dev/v1\nkind: CallGraph\n"
	cases := map[string]struct{ in, want string }{
		"empty":         {"", "empty call graph"},
		"not a mapping": {"- a\n- b\n", "must be a mapping"},
		"syntax":        {"apiVersion: [\n", "x.yaml:"},
		"wrong kind":    {"apiVersion: meshinsight.dev/v1\nkind: Graph\nworkloads: [{name: a}]\n", `kind: got "Graph"`},
		"no workloads":  {head + "edges: []\n", "at least one workload"},
		"nan":           {head + "workloads: [{name: a}]\nedges: [{from: a, to: a, requestBytes: .nan}]\n", "must be a finite number"},
		"ambiguous":     {head + "workloads: [{name: a, namespace: x}, {name: a, namespace: y}]\nedges: [{from: a, to: x/a}]\n", "ambiguous"},
		"mirror":        {head + "workloads: [{name: a}]\nedges: [{from: a, to: a, mirrorPercent: 150}]\n", "must not be above 100"},
		"failure rate":  {head + "workloads: [{name: a}]\nedges: [{from: a, to: a, retries: {attempts: 2, failureRate: 2}}]\n", "must not be above 1"},
		"replicas":      {head + "workloads: [{name: a, replicas: 0}]\n", "must be at least 1"},
		"slash":         {head + "workloads: [{name: a/b}]\n", "must not contain"},
		// Issue #13 item 8: numbers beyond any mesh, which overflowed the model.
		"huge rate":     {head + "workloads: [{name: a}]\nedges: [{from: a, to: a, requestsPerSecond: 1e308}]\n", "edges[0].requestsPerSecond: must not be above 1e+09"},
		"huge size":     {head + "workloads: [{name: a}]\nedges: [{from: a, to: a, responseBytes: 1e308}]\n", "edges[0].responseBytes: must not be above"},
		"huge entry":    {head + "workloads: [{name: a, requestsPerSecond: 1e12}]\n", "workloads[0].requestsPerSecond: must not be above"},
		"huge replicas": {head + "workloads: [{name: a, replicas: 2000000000}]\n", "workloads[0].replicas: must not be above 1000000"},
		"huge bytes/s":  {head + "workloads: [{name: a}]\nedges: [{from: a, to: a, protocol: tcp, bytesPerSecond: 1e300}]\n", "bytesPerSecond: must not be above"},
		"outbound waypoint": {head + "workloads: [{name: a, outbound: waypoint}]\n",
			`workloads[0].outbound: unknown outbound mode "waypoint" (want sidecar, ambient, none)`},
		"waypoint on a sidecar":  {head + "workloads: [{name: a, mode: sidecar, waypoint: wp}]\n", "a waypoint serves ambient workloads"},
		"workload waypoint none": {head + "workloads: [{name: a, mode: ambient, waypoint: none}]\n", "only valid on an edge"},
		"edge waypoint":          {head + "workloads: [{name: a}]\nedges: [{from: a, to: a, waypoint: a/b/c}]\n", "edges[0].waypoint"},
		"nodes":                  {head + "nodes: 0\nworkloads: [{name: a}]\n", "nodes: must be at least 1"},
		"duplicate waypoint": {head + "waypoints: [{name: wp}, {name: wp, namespace: default, replicas: 0}]\nworkloads: [{name: a}]\n",
			`waypoints[1].name: duplicate waypoint "default/wp"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestResolveDefaultsAreReported(t *testing.T) {
	g, err := Parse("x.yaml", []byte("apiVersion: meshinsight.dev/v1\nkind: CallGraph\nworkloads: [{name: a}, {name: b, mode: none}, {name: c, namespace: ns}]\nedges: [{from: a, to: ns/c}, {from: a, to: b, protocol: tcp, bytesPerSecond: 3000, requestBytes: 100, responseBytes: 200}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Resolve(g)
	if err != nil {
		t.Fatal(err)
	}
	e := r.Edges[0]
	if e.Protocol != DefaultProtocol || e.RequestsPerSecond != DefaultRequestsPerSecond || e.RequestBytes != DefaultRequestBytes ||
		e.ResponseBytes != DefaultResponseBytes || !e.MTLSRequested || e.MTLSExplicit || e.ExpectedTries != 1 {
		t.Errorf("defaults not applied: %+v", e)
	}
	if r.Workloads[e.ToIndex].ID() != "ns/c" || r.Workloads[0].Mode != dataplane.Sidecar {
		t.Errorf("workloads = %+v", r.Workloads)
	}
	if got := r.Edges[1].RequestsPerSecond; got != 10 { // 3000 B/s over 300 B per exchange
		t.Errorf("tcp rate from bytes = %v, want 10", got)
	}
	if r.Edges[1].MTLSRequested {
		t.Error("auto mTLS towards an unmeshed workload")
	}
	text := ""
	for _, m := range r.Assumptions {
		text += m.String() + "\n"
	}
	for _, want := range []string{"mode not set", "protocol not set", "requestsPerSecond not set", "requestBytes not set", "mtls not set", "derived from bytesPerSecond"} {
		if !strings.Contains(text, want) {
			t.Errorf("assumptions lack %q:\n%s", want, text)
		}
	}
	if len(r.Entries) != 1 || r.Workloads[r.Entries[0]].Name != "a" {
		t.Errorf("entries = %v", r.Entries)
	}
}

// TestResolveDataPlanePaths: a workload's outbound path, inbound path and
// waypoint are separate facts; today's mode still says both.
func TestResolveDataPlanePaths(t *testing.T) {
	g, err := Parse("x.yaml", []byte(`apiVersion: meshinsight.dev/v1
kind: CallGraph
nodes: 3
waypoints: [{name: wp, namespace: shop, replicas: 2}]
workloads:
  - {name: front, namespace: shop, mode: ambient}
  - {name: api, namespace: shop, mode: ambient, waypoint: wp}
  - {name: legacy, namespace: shop, mode: waypoint}
  - {name: batch, namespace: shop, mode: sidecar, outbound: none}
  - {name: ext, namespace: shop, mode: none}
edges:
  - {from: front, to: api}
  - {from: front, to: api, protocol: grpc, waypoint: none}
  - {from: front, to: legacy}
  - {from: batch, to: api}
  - {from: ext, to: api}
  - {from: api, to: front}
`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Resolve(g)
	if err != nil {
		t.Fatal(err)
	}
	type paths struct {
		mode, out, in dataplane.Mode
		waypoint      string
	}
	for i, want := range []paths{
		{dataplane.Ambient, dataplane.Ambient, dataplane.Ambient, ""},
		{dataplane.Waypoint, dataplane.Ambient, dataplane.Ambient, "shop/wp"},
		{dataplane.Waypoint, dataplane.Ambient, dataplane.Ambient, "shop/waypoint"},
		{dataplane.Sidecar, dataplane.None, dataplane.Sidecar, ""},
		{dataplane.None, dataplane.None, dataplane.None, ""},
	} {
		w := r.Workloads[i]
		if got := (paths{w.Mode, w.Outbound, w.Inbound, w.WaypointID}); got != want {
			t.Errorf("%s = %+v, want %+v", w.ID(), got, want)
		}
	}
	for i, want := range []string{"shop/wp", "", "shop/waypoint", "", "", ""} {
		if got := r.EdgeWaypoint(&r.Edges[i]); got != want {
			t.Errorf("%s crosses %q, want %q (no waypoint after an unmeshed client, none on the way out)", r.Edges[i].Name(), got, want)
		}
	}
	if n, listed := r.WaypointReplicas("shop/wp"); n != 2 || !listed || r.Nodes != 3 || r.NodesDefaulted {
		t.Errorf("waypoint replicas %d (listed %v), nodes %d (defaulted %v)", n, listed, r.Nodes, r.NodesDefaulted)
	}
	if r.Edges[3].MTLSRequested {
		t.Error("auto mTLS from a client whose outbound path has no proxy")
	}
	found := false
	for _, m := range r.Assumptions {
		found = found || m.Subject == "shop/legacy" && strings.Contains(m.Message, "waypoint not set")
	}
	if !found {
		t.Errorf("the legacy mode's default waypoint is not reported: %v", r.Assumptions)
	}
}

func TestExpectedTries(t *testing.T) {
	f := 0.1
	for _, c := range []struct {
		r    Retries
		want float64
	}{
		{Retries{Attempts: 0}, 1},
		{Retries{Attempts: 3}, 1},
		{Retries{Attempts: 2, FailureRate: &f}, 1.11},
	} {
		if got := c.r.ExpectedTries(); got < c.want-1e-12 || got > c.want+1e-12 {
			t.Errorf("%+v: %v, want %v", c.r, got, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, glob := range []string{"../../examples/*.yaml", "testdata/*"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("apiVersion: meshinsight.dev/v1\nkind: CallGraph\nworkloads: [{name: a}]\nedges: [{from: a, to: a, retries: {attempts: 1}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		if _, err := Resolve(g); err != nil {
			t.Fatalf("parsed graph does not resolve: %v", err)
		}
		b, err := Marshal(g, "json")
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if _, err := Parse("fuzz.json", b); err != nil {
			t.Fatalf("round trip: %v\n%s", err, b)
		}
	})
}
