package cluster

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/telemetry"
)

func TestSelect(t *testing.T) {
	traffic := &telemetry.Traffic{Source: telemetry.SourcePrometheus, Edges: []telemetry.EdgeTraffic{
		{SourceWorkload: "productpage", SourceNamespace: "bookinfo", DestinationWorkload: "reviews", DestinationNamespace: "bookinfo",
			DestinationService: "reviews", Protocol: "http", RequestsPerSecond: 10, Reporter: telemetry.ReporterSource},
		{SourceWorkload: "reviews", SourceNamespace: "bookinfo", DestinationWorkload: "ratings", DestinationNamespace: "bookinfo",
			DestinationService: "ratings", Protocol: "http", RequestsPerSecond: 10, Reporter: telemetry.ReporterSource},
	}}
	for name, tc := range map[string]struct {
		selector  string
		workloads []string
		edges     int
		cut       int
		err       string
	}{
		"none":         {selector: "", workloads: []string{"productpage", "reviews", "ratings"}, edges: 2},
		"two":          {selector: "app in (reviews,ratings)", workloads: []string{"reviews", "ratings"}, edges: 1, cut: 1},
		"one":          {selector: "app=productpage", workloads: []string{"productpage"}, edges: 0, cut: 2},
		"nothing":      {selector: "app=nope", err: `no workload's pods match the selector "app=nope"`},
		"mesh skipped": {selector: "!app", err: "no workload's pods match"}, // the waypoint has no labels but is not an application
	} {
		t.Run(name, func(t *testing.T) {
			sel, err := labels.Parse(tc.selector)
			if err != nil {
				t.Fatal(err)
			}
			g, _ := Build(Input{Name: "bookinfo", Topology: topology(), Traffic: traffic})
			msgs, err := Select(g, topology(), sel)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := callgraph.Validate(g); err != nil {
				t.Errorf("the selected graph is invalid: %v", err)
			}
			var names []string
			for _, w := range g.Workloads {
				names = append(names, w.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.workloads, ",") || len(g.Edges) != tc.edges {
				t.Errorf("workloads %v, %d edges; want %v, %d", names, len(g.Edges), tc.workloads, tc.edges)
			}
			if tc.cut == 0 && len(msgs) != 0 {
				t.Errorf("messages %v, want none", msgs)
			}
			if tc.cut > 0 && (len(msgs) != 1 || msgs[0].Code != diag.SelectionCut || !strings.HasPrefix(msgs[0].Message, fmt.Sprintf("%d call", tc.cut))) {
				t.Errorf("messages %v, want one %s for %d calls", msgs, diag.SelectionCut, tc.cut)
			}
		})
	}
}
