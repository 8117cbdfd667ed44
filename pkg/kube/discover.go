package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// Options select what Discover reads.
type Options struct {
	// Namespace limits discovery to one namespace; ignored with AllNamespaces.
	Namespace     string
	AllNamespaces bool
}

// ErrNamespaceNotFound is returned when the requested namespace does not exist.
var ErrNamespaceNotFound = errors.New("namespace not found")

// GatewayResource is the Gateway API resource waypoints are made of.
var GatewayResource = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}

// listOptions reads from the API server's watch cache: a consistent snapshot is
// not needed for a prediction, and the cache answers large lists much faster.
var listOptions = metav1.ListOptions{ResourceVersion: "0"}

// Discover reads the topology with one LIST per resource kind. dyn may be nil, in
// which case waypoints are not read.
func Discover(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, opts Options) (*Topology, error) {
	ns := opts.Namespace
	if opts.AllNamespaces {
		ns = metav1.NamespaceAll
	}
	where := "all namespaces"
	if ns != "" {
		where = fmt.Sprintf("namespace %q", ns)
	}
	t := &Topology{}
	var notes diag.List

	var err error
	if t.Namespaces, err = readNamespaces(ctx, cs, ns, where, &notes); err != nil {
		return nil, err
	}
	l := &lister{ctx: ctx, where: where}
	pods := listed(l, "pods", cs.CoreV1().Pods(ns))
	rss := listed(l, "replicasets", cs.AppsV1().ReplicaSets(ns))
	deps := listed(l, "deployments", cs.AppsV1().Deployments(ns))
	sts := listed(l, "statefulsets", cs.AppsV1().StatefulSets(ns))
	dss := listed(l, "daemonsets", cs.AppsV1().DaemonSets(ns))
	jobs := listed(l, "jobs", cs.BatchV1().Jobs(ns))
	svcs := listed(l, "services", cs.CoreV1().Services(ns))
	if l.err != nil {
		return nil, l.err
	}
	if t.Nodes, err = readNodes(ctx, cs, &notes); err != nil {
		return nil, err
	}
	if dyn != nil {
		if t.Waypoints, err = readWaypoints(ctx, dyn, ns, where, &notes); err != nil {
			return nil, err
		}
	}
	b := newBuilder(t, &notes)
	b.addControllers(deps.Items, sts.Items, dss.Items, jobs.Items)
	b.addPods(pods.Items, rss.Items)
	b.finish()
	b.addServices(svcs.Items)
	t.Messages = notes.Sorted()
	return t, nil
}

// readNamespaces reads namespace ns (all with ""), whose labels carry
// injection and ambient enrolment. A namespace the user may not read is
// kept without labels, with a note.
func readNamespaces(ctx context.Context, cs kubernetes.Interface, ns, where string, notes *diag.List) ([]Namespace, error) {
	if ns == "" {
		list, err := cs.CoreV1().Namespaces().List(ctx, listOptions)
		if err != nil {
			return nil, listError("namespaces", where, err)
		}
		var out []Namespace
		for _, n := range list.Items {
			out = append(out, Namespace{Name: n.Name, Labels: n.Labels})
		}
		return out, nil
	}
	n, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("%w: %q does not exist (list them with `kubectl get namespaces`)", ErrNamespaceNotFound, ns)
	case apierrors.IsForbidden(err):
		// Reading the namespace object is a cluster-scoped permission that
		// namespace-bound users often lack: carry on without its labels.
		notes.Add(diag.New(diag.PartialTopology, ns, "cannot read namespace %q (forbidden); its injection and ambient labels are unknown", ns))
		return []Namespace{{Name: ns}}, nil
	case err != nil:
		return nil, fmt.Errorf("getting namespace %q: %w", ns, err)
	}
	return []Namespace{{Name: n.Name, Labels: n.Labels}}, nil
}

// readNodes reads the nodes' facts; without permission the node types are
// unknown, with a note.
func readNodes(ctx context.Context, cs kubernetes.Interface, notes *diag.List) ([]Node, error) {
	nodes, err := cs.CoreV1().Nodes().List(ctx, listOptions)
	switch {
	case apierrors.IsForbidden(err):
		notes.Add(diag.New(diag.PartialTopology, "nodes", "cannot list nodes (forbidden); node types are unknown and the default profile applies to every workload"))
		return nil, nil
	case err != nil:
		return nil, listError("nodes", "the cluster", err)
	}
	var out []Node
	for _, n := range nodes.Items {
		out = append(out, Node{Name: n.Name, InstanceType: n.Labels[corev1.LabelInstanceTypeStable],
			KernelVersion: n.Status.NodeInfo.KernelVersion, OS: n.Status.NodeInfo.OperatingSystem, Arch: n.Status.NodeInfo.Architecture})
	}
	return out, nil
}

// readWaypoints reads the Gateways of class istio-waypoint; without the
// Gateway API there are none, without permission they are unknown.
func readWaypoints(ctx context.Context, dyn dynamic.Interface, ns, where string, notes *diag.List) ([]Waypoint, error) {
	gws, err := dyn.Resource(GatewayResource).Namespace(ns).List(ctx, listOptions)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil // no Gateway API CRDs: no waypoints can exist
	case apierrors.IsForbidden(err):
		notes.Add(diag.New(diag.PartialTopology, "gateways", "cannot list Gateways (forbidden); waypoints are unknown"))
		return nil, nil
	case err != nil:
		return nil, listError("gateways", where, err)
	}
	var out []Waypoint
	for _, g := range gws.Items {
		if class, _, _ := unstructured.NestedString(g.Object, "spec", "gatewayClassName"); class == "istio-waypoint" {
			out = append(out, Waypoint{Name: g.GetName(), Namespace: g.GetNamespace(), For: g.GetLabels()[labelWaypointFor]})
		}
	}
	return out, nil
}

// listError explains a failed LIST, with what to do about a permission error.
// lister lists one resource after another, keeping the first error: after
// it, the lists are skipped.
type lister struct {
	ctx   context.Context
	where string
	err   error
}

// listed is the list of resource that c answers, or the zero L after an error
// (this one or an earlier one), kept in l.err.
func listed[L any](l *lister, resource string, c interface {
	List(context.Context, metav1.ListOptions) (L, error)
}) L {
	var zero L
	if l.err != nil {
		return zero
	}
	list, err := c.List(l.ctx, listOptions)
	if err != nil {
		l.err = listError(resource, l.where, err)
		return zero
	}
	return list
}

func listError(resource, where string, err error) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("listing %s in %s: forbidden: your credentials need list on %s (check with `kubectl auth can-i list %s`): %w",
			resource, where, resource, resource, err)
	}
	return fmt.Errorf("listing %s in %s: %w", resource, where, err)
}

// builder groups pods into workloads.
type builder struct {
	t         *Topology
	notes     *diag.List
	nsLabels  map[string]map[string]string
	byID      map[string]*Workload
	order     []string
	rsOwner   map[string]metav1.OwnerReference // "ns/rs" → its controller
	jobOwner  map[string]metav1.OwnerReference // "ns/job" → its CronJob
	nodeTypes map[string]string
	waypoints map[string]Waypoint
}

func newBuilder(t *Topology, notes *diag.List) *builder {
	b := &builder{t: t, notes: notes, nsLabels: map[string]map[string]string{}, byID: map[string]*Workload{},
		rsOwner: map[string]metav1.OwnerReference{}, jobOwner: map[string]metav1.OwnerReference{},
		nodeTypes: map[string]string{}, waypoints: map[string]Waypoint{}}
	for _, n := range t.Namespaces {
		b.nsLabels[n.Name] = n.Labels
	}
	for _, n := range t.Nodes {
		b.nodeTypes[n.Name] = n.NodeType()
	}
	for _, w := range t.Waypoints {
		b.waypoints[w.ID()] = w
	}
	return b
}

func (b *builder) workload(kind, ns, name string) *Workload {
	id := ns + "/" + name
	if w, ok := b.byID[id]; ok {
		return w
	}
	w := &Workload{Kind: kind, Name: name, Namespace: ns}
	b.byID[id] = w
	b.order = append(b.order, id)
	return w
}

// addControllers registers every controller, so that one without running pods
// (scaled to zero, or pending) still appears, with its template's data plane.
func (b *builder) addControllers(deps []appsv1.Deployment, sts []appsv1.StatefulSet, dss []appsv1.DaemonSet, jobs []batchv1.Job) {
	desired := func(r *int32) int {
		if r == nil {
			return 1
		}
		return int(*r)
	}
	for i := range deps {
		d := &deps[i]
		b.template(b.workload("Deployment", d.Namespace, d.Name), &d.Spec.Template, desired(d.Spec.Replicas))
	}
	for i := range sts {
		s := &sts[i]
		b.template(b.workload("StatefulSet", s.Namespace, s.Name), &s.Spec.Template, desired(s.Spec.Replicas))
	}
	for i := range dss {
		d := &dss[i]
		b.template(b.workload("DaemonSet", d.Namespace, d.Name), &d.Spec.Template, int(d.Status.DesiredNumberScheduled))
	}
	for i := range jobs {
		j := &jobs[i]
		if owner := metav1.GetControllerOf(j); owner != nil && owner.Kind == "CronJob" {
			b.jobOwner[j.Namespace+"/"+j.Name] = *owner
			b.template(b.workload("CronJob", j.Namespace, owner.Name), &j.Spec.Template, 0)
			continue
		}
		b.template(b.workload("Job", j.Namespace, j.Name), &j.Spec.Template, desired(j.Spec.Parallelism))
	}
}

// template records a controller's pod template: labels, service account, and the
// data plane its pods would get.
func (b *builder) template(w *Workload, tpl *corev1.PodTemplateSpec, replicas int) {
	w.Labels = tpl.Labels
	w.ServiceAccount = tpl.Spec.ServiceAccountName
	w.Replicas = replicas
	p := &corev1.Pod{ObjectMeta: tpl.ObjectMeta, Spec: tpl.Spec}
	w.Role = b.roleOf(w.Namespace, p)
	w.DataPlane = b.dataPlane(w.Namespace, p, true)
}

// addPods attaches pods to their workloads through owner references.
func (b *builder) addPods(pods []corev1.Pod, rss []appsv1.ReplicaSet) {
	for i := range rss {
		rs := &rss[i]
		if owner := metav1.GetControllerOf(rs); owner != nil {
			b.rsOwner[rs.Namespace+"/"+rs.Name] = *owner
		}
	}
	running := map[string]int{}
	for i := range pods {
		p := &pods[i]
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		kind, name := b.owner(p)
		w := b.workload(kind, p.Namespace, name)
		if kind == "Pod" || w.Labels == nil {
			w.Labels = p.Labels
			w.ServiceAccount = p.Spec.ServiceAccountName
		}
		dp := b.dataPlane(p.Namespace, p, false)
		if running[w.ID()] == 0 {
			w.DataPlane = dp // what runs wins over what the template would get
		}
		running[w.ID()]++
		w.Pods = append(w.Pods, Pod{Name: p.Name, Namespace: p.Namespace, IP: p.Status.PodIP, Node: p.Spec.NodeName,
			Ready: podReady(p), Sidecar: dp.Mode == dataplane.Sidecar})
		if nt, ok := b.nodeTypes[p.Spec.NodeName]; ok && !slices.Contains(w.NodeTypes, nt) {
			w.NodeTypes = append(w.NodeTypes, nt)
		}
		if r := b.roleOf(p.Namespace, p); r != RoleApplication {
			w.Role = r
		}
	}
	for id, n := range running {
		w := b.byID[id]
		w.Replicas = n
		mixed := 0
		for _, p := range w.Pods {
			if p.Sidecar != w.Pods[0].Sidecar {
				mixed++
			}
		}
		if mixed > 0 {
			b.notes.Add(diag.New(diag.MixedDataPlane, id, "%d of %d pods differ from the others in having an istio-proxy sidecar (a rollout in progress?); using the first pod's data plane", mixed, len(w.Pods)))
		}
	}
}

func isWaypointPod(p *corev1.Pod) bool {
	for _, c := range p.Spec.Containers {
		for _, a := range c.Args {
			if a == "waypoint" {
				return true
			}
		}
	}
	return false
}

// owner resolves a pod to its top-level controller: Pod → ReplicaSet → Deployment,
// Pod → Job → CronJob, or the pod itself.
func (b *builder) owner(p *corev1.Pod) (kind, name string) {
	ref := metav1.GetControllerOf(p)
	if ref == nil {
		return "Pod", p.Name
	}
	switch ref.Kind {
	case "ReplicaSet":
		if o, ok := b.rsOwner[p.Namespace+"/"+ref.Name]; ok {
			return o.Kind, o.Name
		}
	case "Job":
		if o, ok := b.jobOwner[p.Namespace+"/"+ref.Name]; ok {
			return o.Kind, o.Name
		}
	}
	return ref.Kind, ref.Name
}

// finish sorts workloads into Topology order (by namespace, then name) and
// gives each waypoint the replicas of its Deployment.
func (b *builder) finish() {
	sort.Strings(b.order)
	for _, id := range b.order {
		w := b.byID[id]
		sort.Slice(w.Pods, func(i, j int) bool { return w.Pods[i].Name < w.Pods[j].Name })
		sort.Strings(w.NodeTypes)
		b.t.Workloads = append(b.t.Workloads, *w)
		if w.Role != RoleWaypoint {
			continue
		}
		wid := w.Namespace + "/" + gatewayOf(w)
		for i := range b.t.Waypoints {
			if b.t.Waypoints[i].ID() == wid {
				b.t.Waypoints[i].Replicas += w.Replicas
				b.waypoints[wid] = b.t.Waypoints[i]
			}
		}
	}
}

// addServices maps services to workloads by selector and records waypoint use.
func (b *builder) addServices(svcs []corev1.Service) {
	byNS := map[string][]int{}
	for i, w := range b.t.Workloads {
		byNS[w.Namespace] = append(byNS[w.Namespace], i)
	}
	for i := range svcs {
		s := &svcs[i]
		out := Service{Name: s.Name, Namespace: s.Namespace, Selector: s.Spec.Selector, Labels: s.Labels,
			Headless: s.Spec.ClusterIP == corev1.ClusterIPNone, ExportTo: splitList(s.Annotations[AnnotationExportTo])}
		if id, via := useWaypoint(s.Labels, b.nsLabels[s.Namespace], s.Namespace, "service "+out.ID()); id != "" {
			out.Waypoint = b.applicableWaypoint(id, via, WaypointForService)
		}
		for _, p := range s.Spec.Ports {
			sp := ServicePort{Name: p.Name, Port: p.Port, TargetPort: p.TargetPort.String(), Protocol: string(p.Protocol)}
			if p.AppProtocol != nil {
				sp.AppProtocol = *p.AppProtocol
			}
			out.Ports = append(out.Ports, sp)
		}
		if len(s.Spec.Selector) > 0 {
			sel := labels.SelectorFromSet(s.Spec.Selector)
			for _, wi := range byNS[s.Namespace] {
				w := &b.t.Workloads[wi]
				if sel.Matches(labels.Set(w.Labels)) {
					out.Workloads = append(out.Workloads, w.ID())
				}
			}
		}
		b.t.Services = append(b.t.Services, out)
	}
	sort.Slice(b.t.Services, func(i, j int) bool { return b.t.Services[i].ID() < b.t.Services[j].ID() })
	b.applyServiceWaypoints()
}

// applyServiceWaypoints puts the ambient workloads behind a Service with a
// waypoint (not a headless one: its clients address the pods) behind that
// waypoint: a Service's waypoint goes before the pods' own.
func (b *builder) applyServiceWaypoints() {
	idx := map[string]int{}
	for i, w := range b.t.Workloads {
		idx[w.ID()] = i
	}
	for _, s := range b.t.Services {
		if s.Waypoint == "" || s.Headless {
			continue
		}
		for _, id := range s.Workloads {
			w := &b.t.Workloads[idx[id]]
			dp := &w.DataPlane
			if dp.Mode.Capture() != dataplane.Ambient || dp.Waypoint != "" && dp.Waypoint != dp.WorkloadWaypoint {
				continue // not ambient, or an earlier Service's waypoint was taken
			}
			dp.Mode, dp.Waypoint, dp.Reason = dataplane.Waypoint, s.Waypoint, "istio.io/use-waypoint on service "+s.ID()
		}
	}
}

// splitList splits a comma-separated annotation, trimming spaces; nil for
// none.
func splitList(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
