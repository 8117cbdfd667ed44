package cmd

import (
	"context"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profilestore"
)

// whatIfKeys are the keys of a --what-if value, as ParseWhatIf takes them.
var whatIfKeys = []string{"mtls", "mode", "protocol", "scope", "edge", "workload", "namespace"}

// graphNames are what a --what-if selector can name: workloads, the
// Services they belong to (reviews for reviews-v1) and the calls.
type graphNames struct {
	Workloads, Namespaces, Edges []string
}

// whatIfCompletions completes the last comma-separated part of a
// --what-if value: a key, then the key's values; what came before is kept.
func whatIfCompletions(value string, names graphNames) []string {
	head, last := "", value
	if i := strings.LastIndex(value, ","); i >= 0 {
		head, last = value[:i+1], value[i+1:]
	}
	key, prefix, hasValue := strings.Cut(last, "=")
	var cands []string
	if !hasValue {
		for _, k := range whatIfKeys {
			cands = append(cands, k+"=")
		}
		prefix = key
		key = ""
	} else {
		switch key {
		case "mtls":
			cands = []string{"on", "off"}
		case "mode":
			for _, m := range dataplane.Modes {
				cands = append(cands, string(m))
			}
		case "protocol":
			for _, p := range dataplane.Protocols {
				cands = append(cands, string(p))
			}
		case "scope":
			cands = predict.Scopes
		case "workload":
			cands = names.Workloads
		case "namespace":
			cands = names.Namespaces
		case "edge":
			cands = names.Edges
		}
		key += "="
	}
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, prefix) {
			out = append(out, head+key+c)
		}
	}
	return out
}

// namesOfGraph lists g's workloads (and their Services' names), namespaces
// and edges for completion.
func namesOfGraph(g *callgraph.Graph) graphNames {
	var n graphNames
	for _, w := range g.Workloads {
		n.Workloads = withService(n.Workloads, w.Name)
		if w.Namespace != "" {
			n.Namespaces = append(n.Namespaces, w.Namespace)
		}
	}
	for _, e := range g.Edges {
		n.Edges = append(n.Edges, e.Name())
	}
	return n.sorted()
}

// withService appends a workload's name and, when it is versioned, the
// Service it stands for (reviews-v2 → reviews), as --what-if selectors
// accept both.
func withService(names []string, workload string) []string {
	names = append(names, workload)
	if svc := predict.ServiceOf(workload); svc != "" {
		names = append(names, svc)
	}
	return names
}

func (n graphNames) sorted() graphNames {
	for _, s := range []*[]string{&n.Workloads, &n.Namespaces, &n.Edges} {
		slices.Sort(*s)
		*s = slices.Compact(*s)
	}
	return n
}

// completionNames reads what --what-if may name: the graph of -f when it
// is an embedded example or a local file, else the Deployments,
// StatefulSets and DaemonSets of the cluster's namespace (no edges: they
// come from telemetry, too slow for a shell).
func completionNames(ctx context.Context, c *cobra.Command, flags *genericclioptions.ConfigFlags) graphNames {
	if f := c.Flags().Lookup("filename"); f != nil && f.Value.String() != "" {
		name := f.Value.String()
		g, ok, err := readNamedGraph(ctx, name)
		if !ok && !strings.Contains(name, "://") && name != "-" {
			g, err = callgraph.ReadFile(name)
		}
		if err != nil || g == nil {
			return graphNames{}
		}
		return namesOfGraph(g)
	}
	ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return graphNames{}
	}
	n := graphNames{Workloads: listNames(ctx, flags, "", func(ctx context.Context, cs kubernetes.Interface) ([]string, error) {
		return workloadNames(ctx, cs, ns), nil
	})}
	n.Namespaces = completeNamespaces(ctx, flags, "")
	return n.sorted()
}

// workloadNames lists the Deployments (with the Services their versioned
// names stand for), StatefulSets and DaemonSets of ns that can be read.
func workloadNames(ctx context.Context, cs kubernetes.Interface, ns string) []string {
	var out []string
	apps := cs.AppsV1()
	if l, err := apps.Deployments(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, d := range l.Items {
			out = withService(out, d.Name)
		}
	}
	if l, err := apps.StatefulSets(ns).List(ctx, metav1.ListOptions{}); err == nil {
		out = append(out, itemNames(l.Items)...)
	}
	if l, err := apps.DaemonSets(ns).List(ctx, metav1.ListOptions{}); err == nil {
		out = append(out, itemNames(l.Items)...)
	}
	return out
}

// completeNodes lists the cluster's nodes starting with prefix.
func completeNodes(ctx context.Context, flags *genericclioptions.ConfigFlags, prefix string) []string {
	return listNames(ctx, flags, prefix, func(ctx context.Context, cs kubernetes.Interface) ([]string, error) {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		return itemNames(list.Items), nil
	})
}

// completeStoredProfiles lists the local store's profile names.
func completeStoredProfiles(prefix string) []string {
	dir, err := profilestore.Dir()
	if err != nil {
		return nil
	}
	entries, err := profilestore.ListLocal(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name, prefix) {
			out = append(out, e.Name)
		}
	}
	return out
}
