package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/meshinsight/kubectl-meshinsight/examples"
	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/download"
)

// maxDownloadBytes bounds a call graph read from a URL (a file's bound).
const maxDownloadBytes = 64 << 20

// errNoKubeconfig says there is no cluster to read and what to do instead.
var errNoKubeconfig = errors.New("no kubeconfig found (KUBECONFIG, ~/.kube/config) and no --server: " +
	"try an embedded example with `kubectl meshinsight predict -f example:bookinfo` (see --list-examples), " +
	"pass -f FILE|URL for your own call graph, or --kubeconfig/--context for a cluster")

// readNamedGraph reads a -f that names an embedded example (example:NAME)
// or a URL; ok is false for a path or stdin, which the caller reads.
func readNamedGraph(ctx context.Context, name string) (g *callgraph.Graph, ok bool, err error) {
	var data []byte
	switch {
	case strings.HasPrefix(name, examples.Prefix):
		data, err = examples.Read(strings.TrimPrefix(name, examples.Prefix))
	case download.IsURL(name):
		data, err = download.Get(ctx, nil, name, maxDownloadBytes)
	default:
		return nil, false, nil
	}
	if err != nil {
		return nil, true, fmt.Errorf("reading call graph: %w", err)
	}
	g, err = callgraph.Parse(name, data)
	return g, true, err
}

// noKubeconfig reports whether getter has nothing to connect to: no context
// in any kubeconfig, no --server, and not running in a pod.
func noKubeconfig(getter genericclioptions.RESTClientGetter) bool {
	if f, ok := getter.(*genericclioptions.ConfigFlags); ok && f.APIServer != nil && *f.APIServer != "" {
		return false
	}
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		return false
	}
	raw, err := getter.ToRawKubeConfigLoader().RawConfig()
	return err == nil && len(raw.Contexts) == 0 && len(raw.Clusters) == 0
}

// noResources is kubectl's message for a namespace without workloads.
func noResources(w io.Writer, namespace string, all bool) {
	if all || namespace == "" {
		fmt.Fprintln(w, "No resources found")
		return
	}
	fmt.Fprintf(w, "No resources found in %s namespace.\n", namespace)
}

// printExamples lists the embedded examples for --list-examples.
func printExamples(w io.Writer) error {
	for _, name := range examples.Names() {
		if _, err := fmt.Fprintf(w, "%s%-18s %s\n", examples.Prefix, name, examples.Description(name)); err != nil {
			return fmt.Errorf("listing examples: %w", err)
		}
	}
	return nil
}
