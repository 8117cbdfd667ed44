package profilerun

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/pkg/kube"
)

// Node is a candidate node with the facts shown to the user.
type Node struct {
	Name, NodeType, Kernel, Arch, OSImage string
	// Kubelet is the node's kubelet version.
	Kubelet            string
	Ready, Schedulable bool
}

func nodeOf(n *corev1.Node) Node {
	out := Node{Name: n.Name, Kernel: n.Status.NodeInfo.KernelVersion, Arch: n.Status.NodeInfo.Architecture,
		OSImage: n.Status.NodeInfo.OSImage, Kubelet: n.Status.NodeInfo.KubeletVersion, Schedulable: !n.Spec.Unschedulable}
	out.NodeType = kube.Node{InstanceType: n.Labels[corev1.LabelInstanceTypeStable]}.NodeType()
	if out.NodeType == "unknown" && n.Labels[corev1.LabelInstanceType] != "" {
		out.NodeType = n.Labels[corev1.LabelInstanceType]
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			out.Ready = c.Status == corev1.ConditionTrue
		}
	}
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
			out.Schedulable = false
		}
	}
	return out
}

func isLinux(n *corev1.Node) bool {
	if os, ok := n.Labels[corev1.LabelOSStable]; ok {
		return os == "linux"
	}
	return n.Status.NodeInfo.OperatingSystem == "" || n.Status.NodeInfo.OperatingSystem == "linux"
}

// ChooseNodes picks the nodes to profile:
//   - name set: that node (it must exist and run Linux);
//   - allTypes: one Ready, schedulable Linux node per node type among those
//     matching selector (the first by name), so that every node type gets
//     its own profile;
//   - otherwise: the first Ready, schedulable Linux node matching selector.
//
// Notes say what was skipped and why.
func ChooseNodes(ctx context.Context, kc kubernetes.Interface, name, selector string, allTypes bool) (nodes []Node, notes []string, err error) {
	if name != "" {
		n, err := kc.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("getting node %q: %w (list them with `kubectl get nodes`)", name, err)
		}
		if !isLinux(n) {
			return nil, nil, fmt.Errorf("node %q does not run Linux: the eBPF agent needs a Linux node", name)
		}
		nd := nodeOf(n)
		if !nd.Ready {
			notes = append(notes, fmt.Sprintf("node %s is not Ready: the pods may never start", name))
		}
		return []Node{nd}, notes, nil
	}
	list, err := kc.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, nil, fmt.Errorf("listing nodes: %w", err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	seen := map[string]bool{}
	kernels := map[string]string{}
	for i := range list.Items {
		n := &list.Items[i]
		nd := nodeOf(n)
		if !isLinux(n) || !nd.Ready || !nd.Schedulable {
			continue
		}
		if k, ok := kernels[nd.NodeType]; ok && k != nd.Kernel {
			notes = append(notes, fmt.Sprintf("node type %s runs several kernels (%s, %s): profiled on %s only; use --node-selector to profile the others",
				nd.NodeType, k, nd.Kernel, firstOf(nodes, nd.NodeType)))
		}
		kernels[nd.NodeType] = nd.Kernel
		if seen[nd.NodeType] {
			continue
		}
		seen[nd.NodeType] = true
		nodes = append(nodes, nd)
		if !allTypes {
			break
		}
	}
	if len(nodes) == 0 {
		what := "no Ready, schedulable Linux node"
		if selector != "" {
			what += " matches " + selector
		}
		return nil, notes, fmt.Errorf("%s: pick one with --node", what)
	}
	return nodes, notes, nil
}

func firstOf(nodes []Node, nodeType string) string {
	for _, n := range nodes {
		if n.NodeType == nodeType {
			return n.Name
		}
	}
	return "?"
}
