package profilerun

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/manifests"
	"github.com/meshinsight/kubectl-meshinsight/pkg/handoff"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// Progress receives what a run is doing. Implementations must be safe to
// call from one goroutine (the run's).
type Progress interface {
	// Phase starts a named phase ("deploying", "profiling" …).
	Phase(name string)
	// Update reports cells done of total over all nodes, with a short line.
	Update(done, total int, msg string)
}

type noProgress struct{}

func (noProgress) Phase(string)            {}
func (noProgress) Update(int, int, string) {}

// Result is one node's profile.
type Result struct {
	Target  manifests.Target
	Profile *profile.Profile
}

// RunOptions control Execute.
type RunOptions struct {
	// Timeout bounds the run (not the cleanup).
	Timeout time.Duration
	// Keep leaves the namespace in place for debugging.
	Keep bool
	// Concurrency bounds how many nodes are profiled at once; zero means 2.
	Concurrency int
	// PollInterval is how often the state is read; zero means 1 s.
	PollInterval time.Duration
	// CleanupTimeout bounds the namespace deletion; zero means 2 min.
	CleanupTimeout time.Duration
	// HeartbeatInterval is how often the run's heartbeat is renewed; zero
	// means HeartbeatInterval.
	HeartbeatInterval time.Duration
	Progress          Progress
}

// Objects decodes the plan's manifests into typed objects in apply order.
func (p *Plan) Objects() ([]runtime.Object, error) {
	raw, err := p.Manifests()
	if err != nil {
		return nil, err
	}
	return decode(raw)
}

func decode(raw []byte) ([]runtime.Object, error) {
	r := yaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	var out []runtime.Object
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("splitting the manifests: %w", err)
		}
		if len(strings.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, err := decodeDoc(doc)
		if err != nil {
			return nil, fmt.Errorf("decoding a manifest: %w", err)
		}
		out = append(out, obj)
	}
}

// Clients are the API clients a run uses: typed for Kubernetes' kinds,
// dynamic for Istio's.
type Clients struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
}

// Apply creates objs in order; with dryRun the API server validates and
// admits them without persisting (server-side dry run).
func Apply(ctx context.Context, c Clients, objs []runtime.Object, dryRun bool) error {
	kc := c.Kube
	opts := metav1.CreateOptions{FieldManager: "kubectl-meshinsight"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	for _, o := range objs {
		var err error
		var what string
		switch v := o.(type) {
		case *corev1.Namespace:
			what = "namespace " + v.Name
			_, err = kc.CoreV1().Namespaces().Create(ctx, v, opts)
		case *corev1.Secret:
			what = "secret " + v.Name
			_, err = kc.CoreV1().Secrets(v.Namespace).Create(ctx, v, opts)
		case *corev1.ServiceAccount:
			what = "serviceaccount " + v.Name
			_, err = kc.CoreV1().ServiceAccounts(v.Namespace).Create(ctx, v, opts)
		case *rbacv1.Role:
			what = "role " + v.Name
			_, err = kc.RbacV1().Roles(v.Namespace).Create(ctx, v, opts)
		case *rbacv1.RoleBinding:
			what = "rolebinding " + v.Name
			_, err = kc.RbacV1().RoleBindings(v.Namespace).Create(ctx, v, opts)
		case *corev1.Pod:
			what = "pod " + v.Name
			_, err = kc.CoreV1().Pods(v.Namespace).Create(ctx, v, opts)
		case *batchv1.Job:
			what = "job " + v.Name
			_, err = kc.BatchV1().Jobs(v.Namespace).Create(ctx, v, opts)
		case *corev1.Service:
			what = "service " + v.Name
			_, err = kc.CoreV1().Services(v.Namespace).Create(ctx, v, opts)
		case *unstructured.Unstructured:
			what = strings.ToLower(v.GetKind()) + " " + v.GetName()
			err = applyUnstructured(ctx, c.Dynamic, v, opts)
		default:
			return fmt.Errorf("unexpected object %T in the manifests", o)
		}
		if err != nil {
			return fmt.Errorf("creating %s: %w", what, err)
		}
	}
	return nil
}

// istioResources maps the Istio kinds in the manifests to their resources.
var istioResources = map[string]schema.GroupVersionResource{
	"DestinationRule":    {Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"},
	"PeerAuthentication": {Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"},
}

func applyUnstructured(ctx context.Context, dyn dynamic.Interface, u *unstructured.Unstructured, opts metav1.CreateOptions) error {
	gvr, ok := istioResources[u.GetKind()]
	if !ok {
		return fmt.Errorf("unexpected kind %s in the manifests", u.GetKind())
	}
	if dyn == nil {
		return fmt.Errorf("no dynamic client for %s", u.GetKind())
	}
	_, err := dyn.Resource(gvr).Namespace(u.GetNamespace()).Create(ctx, u, opts)
	if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
		return fmt.Errorf("%w (are Istio's CRDs installed?)", err)
	}
	return err
}

// targetObjects splits objs into those shared by the run (namespace, RBAC)
// and those of each target (benchmark pods and agent Job), by label.
func targetObjects(objs []runtime.Object) (shared []runtime.Object, byTarget map[string][]runtime.Object) {
	byTarget = map[string][]runtime.Object{}
	for _, o := range objs {
		m, err := metaOf(o)
		if err != nil {
			shared = append(shared, o)
			continue
		}
		if t, ok := m.GetLabels()[manifests.TargetLabel]; ok {
			byTarget[t] = append(byTarget[t], o)
		} else {
			shared = append(shared, o)
		}
	}
	return shared, byTarget
}

// Execute creates the plan's namespace and, at most Concurrency at a time,
// each node's benchmark pods and agent Job; it waits for every agent's
// hand-off, validates the profiles, and deletes the namespace, whatever
// happened, unless Keep. Results come in the plan's node order. On error,
// the results of the nodes that finished are returned too.
func Execute(ctx context.Context, c Clients, p *Plan, o RunOptions) (results []Result, err error) {
	kc := c.Kube
	if o.Progress == nil {
		o.Progress = noProgress{}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 2
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.CleanupTimeout <= 0 {
		o.CleanupTimeout = 2 * time.Minute
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = HeartbeatInterval
	}
	objs, err := p.Objects()
	if err != nil {
		return nil, err
	}
	shared, byTarget := targetObjects(objs)
	ns := p.Params.Namespace
	o.Progress.Phase("creating namespace " + ns)
	if _, err := createRunNamespace(ctx, c, shared[0]); err != nil {
		return nil, err
	}
	bctx, stopBeating := startHeartbeat(ctx, kc, ns, o.HeartbeatInterval)
	defer func() {
		stopBeating()
		if o.Keep {
			err = errors.Join(err, markKept(ctx, kc, ns, o.CleanupTimeout))
			return
		}
		o.Progress.Phase("deleting namespace " + ns)
		// A fresh context: the run's may be cancelled or past its deadline,
		// and cleanup must happen anyway.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.CleanupTimeout)
		defer cancel()
		if cerr := DeleteNamespace(cctx, kc, ns, o.PollInterval); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()

	rctx, cancel := context.WithTimeout(bctx, o.Timeout)
	defer cancel()
	if err := Apply(rctx, c, shared[1:], false); err != nil {
		return nil, err
	}
	w := &waiter{c: c, ns: ns, plan: p, byTarget: byTarget, opts: o, results: map[string]*profile.Profile{}}
	werr := w.run(rctx)
	for _, t := range p.Params.Targets {
		if pr, ok := w.results[t.Name]; ok {
			results = append(results, Result{Target: t, Profile: pr})
		}
	}
	if werr != nil {
		if cause := context.Cause(bctx); errors.Is(cause, errHeartbeat) {
			return results, cause
		}
		// client-go's rate limiter refuses a wait that would end after the
		// deadline, before it has passed: that is the timeout too.
		deadline, _ := rctx.Deadline()
		if ctx.Err() == nil && (errors.Is(rctx.Err(), context.DeadlineExceeded) || time.Until(deadline) < time.Second) {
			return results, fmt.Errorf("timed out after %v: %w%s", o.Timeout, werr, w.stuckSummary())
		}
		return results, werr
	}
	return results, nil
}

type waiter struct {
	c        Clients
	ns       string
	plan     *Plan
	byTarget map[string][]runtime.Object
	opts     RunOptions
	results  map[string]*profile.Profile
	// last seen pod problems, by target, for the timeout message.
	stuck map[string]string
}

func (w *waiter) stuckSummary() string {
	if len(w.stuck) == 0 {
		return ""
	}
	keys := make([]string, 0, len(w.stuck))
	for k := range w.stuck {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %s: %s", k, w.stuck[k])
	}
	return b.String()
}

func (w *waiter) run(ctx context.Context) error {
	targets := w.plan.Params.Targets
	next := 0
	active := map[string]bool{}
	w.stuck = map[string]string{}
	progress := map[string][2]int{}
	w.opts.Progress.Phase(fmt.Sprintf("profiling %d node(s)", len(targets)))
	tick := time.NewTicker(w.opts.PollInterval)
	defer tick.Stop()
	for {
		for len(active) < w.opts.Concurrency && next < len(targets) {
			t := targets[next]
			next++
			if err := Apply(ctx, w.c, w.byTarget[t.Name], false); err != nil {
				return fmt.Errorf("node %s: %w", t.Node, err)
			}
			active[t.Name] = true
		}
		if len(active) == 0 {
			return nil
		}
		if err := w.poll(ctx, active, progress); err != nil {
			return err
		}
		if len(active) == 0 && next == len(targets) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the agents: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// fatalWaiting are container waiting reasons that will not resolve by
// themselves.
//
// ImagePullBackOff follows a failed pull: kubelet would retry, but a run
// that waits out its timeout on a misspelt image or an unreachable registry
// helps nobody.
var fatalWaiting = map[string]bool{"InvalidImageName": true, "ErrImageNeverPull": true, "ImagePullBackOff": true, "CreateContainerConfigError": true}

// poll reads the pods, Jobs and hand-off ConfigMaps once and updates state.
func (w *waiter) poll(ctx context.Context, active map[string]bool, progress map[string][2]int) error {
	cms, err := w.c.Kube.CoreV1().ConfigMaps(w.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("reading the agents' results: %w", err)
	}
	byName := map[string]*corev1.ConfigMap{}
	for i := range cms.Items {
		byName[cms.Items[i].Name] = &cms.Items[i]
	}
	for _, t := range w.plan.Params.Targets {
		if !active[t.Name] {
			continue
		}
		cm, ok := byName[t.Handoff]
		if !ok {
			continue
		}
		st, err := handoff.Read(cm)
		if err != nil {
			return fmt.Errorf("node %s: %w", t.Node, err)
		}
		switch st.State {
		case handoff.Failed:
			return fmt.Errorf("the agent on node %s failed: %s", t.Node, st.Message)
		case handoff.Succeeded:
			w.plan.stamp(st.Profile, t)
			w.results[t.Name] = st.Profile
			delete(active, t.Name)
			delete(w.stuck, t.Name)
			progress[t.Name] = [2]int{max(st.Total, 1), max(st.Total, 1)}
		default:
			progress[t.Name] = [2]int{st.Done, st.Total}
			delete(w.stuck, t.Name)
		}
		w.report(progress, fmt.Sprintf("%s: %s", t.Node, st.Message))
	}
	if len(active) == 0 {
		return nil
	}
	if err := w.checkPods(ctx, active); err != nil {
		return err
	}
	return w.checkJobs(ctx, active)
}

// checkPods fails on a benchmark or agent pod that failed or cannot start,
// and notes the ones that wait, for the timeout message.
func (w *waiter) checkPods(ctx context.Context, active map[string]bool) error {
	pods, err := w.c.Kube.CoreV1().Pods(w.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("watching the pods: %w", err)
	}
	for _, pod := range pods.Items {
		t := pod.Labels[manifests.TargetLabel]
		if !active[t] {
			continue
		}
		if pod.Status.Phase == corev1.PodFailed {
			return fmt.Errorf("pod %s on node %s failed: %s %s", pod.Name, pod.Spec.NodeName, pod.Status.Reason, pod.Status.Message)
		}
		for _, cs := range pod.Status.ContainerStatuses {
			if wt := cs.State.Waiting; wt != nil && wt.Reason != "" && wt.Reason != "ContainerCreating" {
				if fatalWaiting[wt.Reason] {
					return fmt.Errorf("pod %s cannot start: %s: %s (check --image; images loaded on the node need --image-pull-policy IfNotPresent or Never)", pod.Name, wt.Reason, wt.Message)
				}
				w.stuck[t] = fmt.Sprintf("pod %s waiting: %s %s", pod.Name, wt.Reason, wt.Message)
			}
			if tm := cs.State.Terminated; tm != nil && tm.ExitCode != 0 {
				return fmt.Errorf("pod %s: container %s exited with %d: %s %s", pod.Name, cs.Name, tm.ExitCode, tm.Reason, tm.Message)
			}
		}
		// No phase at all: no kubelet has ever reported on the pod.
		if (pod.Status.Phase == corev1.PodPending || pod.Status.Phase == "") && len(pod.Status.ContainerStatuses) == 0 {
			if _, known := w.stuck[t]; !known {
				w.stuck[t] = fmt.Sprintf("pod %s still Pending on node %s (is the node Ready? `kubectl describe pod -n %s %s`)",
					pod.Name, pod.Spec.NodeName, w.ns, pod.Name)
			}
		}
	}
	return nil
}

// checkJobs fails on an agent Job that failed.
func (w *waiter) checkJobs(ctx context.Context, active map[string]bool) error {
	jobs, err := w.c.Kube.BatchV1().Jobs(w.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("watching the agent jobs: %w", err)
	}
	for _, j := range jobs.Items {
		t := j.Labels[manifests.TargetLabel]
		if !active[t] {
			continue
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
				return fmt.Errorf("the agent job %s on node %s failed: %s %s", j.Name, j.Spec.Template.Spec.NodeName, c.Reason, c.Message)
			}
		}
	}
	return nil
}

func (w *waiter) report(progress map[string][2]int, msg string) {
	var done, total int
	for _, t := range w.plan.Params.Targets {
		pr := progress[t.Name]
		done += pr[0]
		total += pr[1]
	}
	w.opts.Progress.Update(done, total, msg)
}

// createRunNamespace creates the run's namespace, the manifests' first
// object, with its heartbeat set, so that a run killed from here on leaves
// a namespace the next run recognises as stale.
func createRunNamespace(ctx context.Context, c Clients, first runtime.Object) (*corev1.Namespace, error) {
	nsObj, ok := first.(*corev1.Namespace)
	if !ok {
		return nil, fmt.Errorf("the manifests start with a %T, not the run's namespace", first)
	}
	markHeartbeat(nsObj, time.Now())
	if err := Apply(ctx, c, []runtime.Object{nsObj}, false); err != nil {
		return nil, err
	}
	return nsObj, nil
}

// DeleteNamespace deletes ns and waits until it is gone.
func DeleteNamespace(ctx context.Context, kc kubernetes.Interface, ns string, poll time.Duration) error {
	bg := metav1.DeletePropagationBackground
	err := kc.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{PropagationPolicy: &bg})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting namespace %s: %w (remove it with `kubectl delete namespace %s`)", ns, err, ns)
	}
	start := time.Now()
	forced := false
	for {
		_, err := kc.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		// Pods on a node whose kubelet is gone (or never ran them) are never
		// confirmed terminated and hold the namespace in Terminating: after
		// a grace period, delete them without waiting for the kubelet. A
		// live kubelet still kills their containers when it sees them gone.
		if !forced && time.Since(start) > 10*time.Second {
			forced = true
			zero := int64(0)
			if err := kc.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("force-deleting the pods of namespace %s: %w", ns, err)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s is still terminating: %w (check `kubectl get namespace %s -o yaml`)", ns, ctx.Err(), ns)
		case <-time.After(poll):
		}
	}
}

// stamp records in a node's profile what the plan knows better than the
// agent, which cannot read Node objects or istiod: the node type the
// profile is stored under (never the agent's word for it), the kubelet
// version and Istio's version.
func (p *Plan) stamp(prof *profile.Profile, t manifests.Target) {
	pl := &prof.Provenance.Platform
	pl.NodeType = t.NodeType
	for _, n := range p.Nodes {
		if n.Name == t.Node && n.Kubelet != "" {
			pl.Kubernetes = n.Kubelet
		}
	}
	if p.Istio != nil {
		pl.Mesh, pl.MeshVersion = "istio", p.Istio.Version
	}
}
