// Command benchgraph writes a synthetic call graph (callgraph.Synthetic) for
// end-to-end benchmarks of the CLI:
//
//	go run ./hack/benchgraph -workloads 10000 -edges 100000 > /tmp/graph.yaml
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
)

func main() {
	workloads := flag.Int("workloads", 10_000, "number of workloads")
	edges := flag.Int("edges", 100_000, "number of edges")
	seed := flag.Uint64("seed", 1, "random seed")
	format := flag.String("format", "yaml", "yaml or json")
	flag.Parse()
	if *workloads < 2 || *edges < 0 {
		fmt.Fprintln(os.Stderr, "benchgraph: need at least 2 workloads and no negative edge count")
		os.Exit(2)
	}
	b, err := callgraph.Marshal(callgraph.Synthetic(*workloads, *edges, *seed), *format)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchgraph:", err)
		os.Exit(1)
	}
	os.Stdout.Write(b)
}
