//go:build integration

package cmd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/internal/testenv"
	"github.com/meshinsight/kubectl-meshinsight/manifests"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profilerun"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profilestore"
)

func randSuffix(t *testing.T) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// installIstiod creates a namespace with an istiod Deployment (its pod runs
// on the fake node), as istioctl would, and returns the namespace.
func installIstiod(t *testing.T, cs kubernetes.Interface) string {
	t.Helper()
	ns := testenv.NewNamespace(t, cs)
	labels := map[string]string{"app": "istiod"}
	one := int32(1)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "istiod", Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{NodeName: testenv.FakeNodeName, Containers: []corev1.Container{
					{Name: "discovery", Image: "docker.io/istio/pilot:1.28.0"}}}}}}
	if _, err := cs.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ns
}

// fakeNode adds a Node; managed by kwok (Ready, runs pods) or not (pods
// bound to it stay Pending forever, like a node whose kubelet is gone).
func fakeNode(t *testing.T, cs kubernetes.Interface, name string, labels map[string]string, managed bool) {
	t.Helper()
	ann := map[string]string{}
	if managed {
		ann["kwok.x-k8s.io/node"] = "fake"
	}
	l := map[string]string{"kubernetes.io/os": "linux", "kubernetes.io/hostname": name}
	for k, v := range labels {
		l[k] = v
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l, Annotations: ann},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110")},
			NodeInfo:    corev1.NodeSystemInfo{OperatingSystem: "linux", Architecture: "amd64", KernelVersion: "6.1.0-" + name},
		}}
	if _, err := cs.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	if managed {
		deadline := time.Now().Add(60 * time.Second)
		for {
			got, err := cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
			if err == nil && profilerNodeReady(got) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s not Ready after 60s", name)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

func profilerNodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// agentBinary builds meshinsight-agent once per test binary.
var agentBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "mi-agent-bin-")
	if err != nil {
		return "", err
	}
	afterTests = append(afterTests, func() { os.RemoveAll(dir) })
	out := filepath.Join(dir, "meshinsight-agent")
	cmd := exec.Command("go", "build", "-o", out, "github.com/meshinsight/kubectl-meshinsight/cmd/meshinsight-agent")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New(string(b))
	}
	return out, nil
})

// standInAgents plays the part of the kubelet for agent Jobs on kwok's fake
// nodes, which run no containers: for every agent pod that reaches Running,
// it starts a real meshinsight-agent process with the pod's hand-off and
// node-type arguments. The in-pod measurement (--in-cluster) needs a real
// node with injected pods, so the stand-in measures a real haproxy
// datapath on this host instead (--local): the process, the eBPF
// measurement and the hand-off through the API are the real ones.
func standInAgents(ctx context.Context, t *testing.T, cs kubernetes.Interface, kubeconfig string) (wait func() int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the stand-in agent builds a netns datapath and loads eBPF programs: run the integration suite as root (make test-integration under sudo)")
	}
	bin, err := agentBinary()
	if err != nil {
		t.Fatalf("building meshinsight-agent: %v", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	started := map[string]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: manifests.ComponentLabel + "=agent"})
			if err == nil {
				for _, p := range pods.Items {
					if p.Status.Phase != corev1.PodRunning || !strings.HasPrefix(p.Namespace, profilerun.NamespacePrefix) {
						continue
					}
					mu.Lock()
					seen := started[p.Namespace+"/"+p.Name]
					started[p.Namespace+"/"+p.Name] = true
					mu.Unlock()
					if seen {
						continue
					}
					args := []string{"profile", "--local", "--proxy", "haproxy", "--kubeconfig", kubeconfig,
						"--protocols", "tcp", "--mtls", "off", "--sizes", "1024", "--rates", "300", "--duration", "300ms", "--rounds", "1",
						"--prefix", "mip" + randSuffix(t)[:4]}
					for _, a := range p.Spec.Containers[0].Args {
						if strings.HasPrefix(a, "--handoff=") || strings.HasPrefix(a, "--node-type=") {
							args = append(args, a)
						}
					}
					wg.Add(1)
					go func(name string) {
						defer wg.Done()
						cmd := exec.CommandContext(ctx, bin, args...)
						var out bytes.Buffer
						cmd.Stdout, cmd.Stderr = &out, &out
						err := cmd.Run()
						t.Logf("stand-in agent for %s: err=%v\n%s", name, err, out.String())
					}(p.Namespace + "/" + p.Name)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(300 * time.Millisecond):
			}
		}
	}()
	return func() int {
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return len(started)
	}
}

// profileCmd binds args to the profile command's options as the command
// line would; run does Complete, Validate and Run. Its kube flags point at
// kubeconfig; tests may change them (e.g. Impersonate) before run.
func profileCmd(t *testing.T, kubeconfig string, args ...string) (*genericclioptions.ConfigFlags, *bytes.Buffer, *bytes.Buffer, func(context.Context) error) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig = &kubeconfig
	o := NewProfileOptions(flags, streams)
	fs := pflag.NewFlagSet("profile", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return flags, out, errOut, func(ctx context.Context) error {
		if err := o.Complete(nil); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run(ctx)
	}
}

// useStore points the local profile store at an empty directory for this
// test (through XDG_CONFIG_HOME, as a user would) and returns it.
func useStore(t *testing.T) string {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	dir, err := profilestore.Dir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func runNamespaces(t *testing.T, cs kubernetes.Interface) []string {
	t.Helper()
	list, err := cs.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range list.Items {
		if strings.HasPrefix(n.Name, profilerun.NamespacePrefix) {
			out = append(out, n.Name+"("+string(n.Status.Phase)+")")
		}
	}
	return out
}

func assertNoRunNamespace(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	if left := runNamespaces(t, cs); len(left) > 0 {
		t.Errorf("profiling namespaces left behind: %v", left)
	}
}

func TestProfileNodeEndToEnd(t *testing.T) {
	kubeconfig := testenv.Kubeconfig(t)
	cs := testenv.Client(t)
	istioNS := installIstiod(t, cs)
	store := useStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	sctx, stop := context.WithCancel(ctx)
	wait := standInAgents(sctx, t, cs, kubeconfig)

	_, out, errOut, run := profileCmd(t, kubeconfig, "--node", testenv.FakeNodeName, "--istio-namespace", istioNS,
		"--save-to-cluster", "--timeout", "3m", "--image", "example.invalid/meshinsight-agent:test")
	err := run(ctx)
	stop()
	n := wait()
	t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
	if err != nil {
		t.Fatalf("profile: %v", err)
	}
	if n != 1 {
		t.Errorf("%d agent pods ran, want 1", n)
	}
	if !strings.Contains(out.String(), "stored in") || !strings.Contains(errOut.String(), "Istio 1.28.0") {
		t.Errorf("output does not say where the profile went or which Istio it found")
	}
	set, err := profilestore.LoadLocal(store, "meshinsight-testenv")
	if err != nil || set == nil {
		t.Fatalf("local profile: %v, %v", set, err)
	}
	if nt := set.Default.Provenance.Platform.NodeType; nt != "fake-standard" {
		t.Errorf("profile node type %q, want fake-standard (the node's instance type)", nt)
	}
	cset, err := profilestore.LoadCluster(ctx, cs, istioNS)
	if err != nil || cset == nil || len(cset.Default.Models) == 0 {
		t.Fatalf("cluster profile: %v, %v", cset, err)
	}
	assertNoRunNamespace(t, cs)

	// predict picks the stored profiles up: the cluster's ConfigMap when it
	// reads the cluster, the context's file for a graph file, and --profile
	// over both. istiod is the control plane, not a workload of the live
	// graph: an application gives that graph a workload.
	one, app := int32(1), map[string]string{"app": "sleep"}
	if _, err := cs.AppsV1().Deployments(istioNS).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "sleep", Namespace: istioNS},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: app},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: app}, Spec: corev1.PodSpec{NodeName: testenv.FakeNodeName,
				Containers: []corev1.Container{{Name: "sleep", Image: "example.invalid/sleep"}}}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		wantSource string
	}{
		{"live", []string{"--istio-namespace", istioNS, "-n", istioNS, "--source", "config"}, "ConfigMap " + istioNS + "/meshinsight-profile"},
		{"file", []string{"-f", "../../examples/bookinfo.yaml"}, filepath.Join(store, "meshinsight-testenv.json")},
		{"flag", []string{"-f", "../../examples/bookinfo.yaml", "--profile", "../profile/reference.json"}, "../profile/reference.json"},
	} {
		out, errOut, err := execute(t, append([]string{"--kubeconfig", kubeconfig, "predict", "-o", "json"}, tc.args...)...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.name, err, errOut)
		}
		var r struct{ Profile struct{ Source string } }
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r.Profile.Source != tc.wantSource {
			t.Errorf("%s: profile from %q, want %q (stderr %q)", tc.name, r.Profile.Source, tc.wantSource, errOut)
		}
		if tc.name != "flag" && !strings.Contains(errOut, "Using the measured profile") {
			t.Errorf("%s: predict does not say which profile it used: %q", tc.name, errOut)
		}
	}
}

func TestProfileDryRunPassesServerSideDryRun(t *testing.T) {
	kubeconfig := testenv.Kubeconfig(t)
	cs := testenv.Client(t)
	istioNS := installIstiod(t, cs)
	_, out, errOut, run := profileCmd(t, kubeconfig, "--dry-run=server", "--istio-namespace", istioNS)
	if err := run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	// The namespace existed only for the dry run; nothing else was kept.
	assertNoRunNamespace(t, cs)
	for _, want := range []string{"kind: Namespace", "kind: Job", "kind: DestinationRule", "kind: PeerAuthentication", "hostPID: true", "drop: [\"ALL\"]", "activeDeadlineSeconds", "readOnlyRootFilesystem: true"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry-run output lacks %q", want)
		}
	}
	objs, err := profilerun.Decode(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("admitted all %d objects and kept none", len(objs)); !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}

	// A cluster policy that refuses privileged agents (as Kyverno or
	// Gatekeeper would; here a ValidatingAdmissionPolicy) fails the dry
	// run with the object and the policy's message, and the namespace is
	// still deleted. A new policy takes a moment to be enforced: retry.
	denyHostPID(t, cs)
	var errOut2 string
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, _, e, run2 := profileCmd(t, kubeconfig, "--dry-run=server", "--istio-namespace", istioNS, "--image", denyImage)
		err = run2(context.Background())
		errOut2 = e.String()
		if err != nil || time.Now().After(deadline) {
			break
		}
		assertNoRunNamespace(t, cs)
		time.Sleep(500 * time.Millisecond)
	}
	if err == nil || !strings.Contains(err.Error(), "server-side dry run: creating job") || !strings.Contains(err.Error(), "meshinsight test: no hostPID") {
		t.Errorf("dry run against a policy refusing hostPID: %v\n%s", err, errOut2)
	}
	assertNoRunNamespace(t, cs)
}

func TestProfileRBACDenied(t *testing.T) {
	kubeconfig := testenv.Kubeconfig(t)
	cs := testenv.Client(t)
	istioNS := installIstiod(t, cs)
	user := "meshinsight-nobody"
	flags, _, _, run := profileCmd(t, kubeconfig, "--istio-namespace", istioNS, "--node", testenv.FakeNodeName)
	flags.Impersonate = &user // kubectl's --as
	err := run(context.Background())
	if err == nil {
		t.Fatal("profile as a user without RBAC succeeded")
	}
	t.Logf("error: %v", err)
	var missing *profilerun.MissingPermissionsError
	if !errors.As(err, &missing) || !strings.Contains(err.Error(), "create jobs.batch in namespace meshinsight-profile-") {
		t.Errorf("error does not list the missing permissions: %v", err)
	}
	assertNoRunNamespace(t, cs)
}

func TestProfileRBACMissingPermissionsListed(t *testing.T) {
	cs := testenv.Client(t)
	cfg := testenv.Config(t)
	cfg.Impersonate.UserName = "meshinsight-nobody"
	nobody := kubernetes.NewForConfigOrDie(cfg)
	err := profilerun.CheckAccess(context.Background(), nobody, profilerun.Permissions("meshinsight-profile-x", "istio-system"))
	var missing *profilerun.MissingPermissionsError
	if !errors.As(err, &missing) {
		t.Fatalf("CheckAccess = %v, want a MissingPermissionsError", err)
	}
	if len(missing.Missing) != len(profilerun.Permissions("meshinsight-profile-x", "istio-system")) {
		t.Errorf("%d of %d permissions reported missing for a user with none", len(missing.Missing), len(profilerun.Permissions("x", "y")))
	}
	if err := profilerun.CheckAccess(context.Background(), cs, profilerun.Permissions("meshinsight-profile-x", "istio-system")); err != nil {
		t.Errorf("the admin lacks permissions: %v", err)
	}
}

// profileDeadNode is a profile run, with timeout, on a fake node whose pods
// never start, and the client of the cluster it runs in.
func profileDeadNode(t *testing.T, timeout string) (kubernetes.Interface, func(context.Context) error) {
	t.Helper()
	kubeconfig := testenv.Kubeconfig(t)
	cs := testenv.Client(t)
	istioNS := installIstiod(t, cs)
	node := "mi-dead-" + randSuffix(t)
	fakeNode(t, cs, node, nil, false)
	_, _, _, run := profileCmd(t, kubeconfig, "--node", node, "--istio-namespace", istioNS, "--timeout", timeout)
	return cs, run
}

func TestProfileImageNeverStartsTimesOutAndCleansUp(t *testing.T) {
	cs, run := profileDeadNode(t, "6s")
	start := time.Now()
	err := run(context.Background())
	if err == nil {
		t.Fatal("profile on a node that never starts pods succeeded")
	}
	t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if !strings.Contains(err.Error(), "timed out") || !strings.Contains(err.Error(), "Pending") {
		t.Errorf("error does not explain the timeout: %v", err)
	}
	assertNoRunNamespace(t, cs)
}

func TestProfileCancelledCleansUp(t *testing.T) {
	cs, run := profileDeadNode(t, "2m")
	ctx, cancel := context.WithCancel(context.Background())
	go func() { // Ctrl-C once the namespace exists
		for ctx.Err() == nil {
			if len(runNamespaces(t, cs)) > 0 {
				time.Sleep(time.Second)
				cancel()
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	err := run(ctx)
	cancel()
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run returned %v, want context.Canceled", err)
	}
	assertNoRunNamespace(t, cs)
}

func TestProfileIstioMissing(t *testing.T) {
	kubeconfig := testenv.Kubeconfig(t)
	cs := testenv.Client(t)
	empty := testenv.NewNamespace(t, cs)
	_, _, _, run := profileCmd(t, kubeconfig, "--istio-namespace", empty)
	err := run(context.Background())
	if err == nil || !errors.Is(err, profilerun.ErrIstioNotFound) || !strings.Contains(err.Error(), "install Istio") {
		t.Errorf("err = %v, want istiod not found with advice", err)
	}
	assertNoRunNamespace(t, cs)
}

// A namespace whose heartbeat stopped is deleted by --clean-leftovers,
// which profiles nothing; one whose heartbeat is fresh (a run still going)
// is left alone.
func TestProfileLeftoverIsCleaned(t *testing.T) {
	kubeconfig := testenv.Kubeconfig(t)
	cs := testenv.Client(t)
	suffix := randSuffix(t)[:2]
	create := func(name string, beat time.Time) string {
		t.Helper()
		ns := profilerun.NamespacePrefix + name + suffix
		_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
			Labels:      map[string]string{manifests.ManagedByLabel: manifests.ManagedBy, manifests.RunLabel: name},
			Annotations: map[string]string{profilerun.HeartbeatAnnotation: beat.UTC().Format(time.RFC3339)}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ns
	}
	dead := create("dead", time.Now().Add(-time.Hour))
	live := create("live", time.Now())
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), live, metav1.DeleteOptions{}) })
	_, _, errOut, run := profileCmd(t, kubeconfig, "--clean-leftovers")
	if err := run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if !strings.Contains(errOut.String(), "deleting leftover namespace "+dead) || !strings.Contains(errOut.String(), live+" belongs to a run that is still going") {
		t.Errorf("stderr does not tell the two apart:\n%s", errOut)
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), dead, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("leftover namespace %s still there: %v", dead, err)
	}
	if ns, err := cs.CoreV1().Namespaces().Get(context.Background(), live, metav1.GetOptions{}); err != nil || ns.DeletionTimestamp != nil {
		t.Errorf("the live run's namespace %s was deleted: %v", live, err)
	}
}

func TestProfileAllNodeTypes(t *testing.T) {
	kubeconfig := testenv.Kubeconfig(t)
	cs := testenv.Client(t)
	istioNS := installIstiod(t, cs)
	run := randSuffix(t)
	sel := map[string]string{"meshinsight.dev/test-pool": run}
	for _, n := range []struct{ name, typ string }{{"mi-small-" + run, "mi.small"}, {"mi-large-" + run, "mi.large"}, {"mi-large2-" + run, "mi.large"}} {
		labels := map[string]string{corev1.LabelInstanceTypeStable: n.typ}
		for k, v := range sel {
			labels[k] = v
		}
		fakeNode(t, cs, n.name, labels, true)
	}
	store := useStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sctx, stop := context.WithCancel(ctx)
	wait := standInAgents(sctx, t, cs, kubeconfig)
	_, out, errOut, runCmd := profileCmd(t, kubeconfig, "--all-node-types", "--node-selector", "meshinsight.dev/test-pool="+run,
		"--istio-namespace", istioNS, "--timeout", "4m", "--concurrency", "2", "-o", "json")
	err := runCmd(ctx)
	stop()
	n := wait()
	t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d agents ran, want 2 (one per node type)", n)
	}
	set, err := profilestore.LoadLocal(store, "meshinsight-testenv")
	if err != nil || set == nil {
		t.Fatalf("local profiles: %v %v", set, err)
	}
	if got := set.NodeTypes(); strings.Join(got, ",") != "mi.large,mi.small" {
		t.Errorf("node types %v, want mi.large and mi.small", got)
	}
	if errOut.Len() != 0 {
		t.Errorf("-o json printed progress on stderr:\n%s", errOut)
	}
	for _, nt := range []string{"mi.large", "mi.small"} {
		if p := set.ByNodeType[nt]; p == nil || len(p.Models) == 0 {
			t.Errorf("no usable profile for %s", nt)
		} else if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", nt, err)
		}
	}
	assertNoRunNamespace(t, cs)

	// predict applies each node type's profile to the workloads on it.
	graph := writeFile(t, t.TempDir(), "g.yaml", `apiVersion: meshinsight.dev/v1
kind: CallGraph
workloads:
- {name: web, nodeType: mi.small}
- {name: api, nodeType: mi.large}
edges:
- {from: web, to: api, protocol: tcp, requestsPerSecond: 100}
`)
	pout, perr, err := execute(t, "--kubeconfig", kubeconfig, "predict", "-f", graph, "-o", "json")
	if err != nil {
		t.Fatal(err, perr)
	}
	var rep struct {
		Messages []struct{ Code, Subject, Message string }
	}
	if err := json.Unmarshal([]byte(pout), &rep); err != nil {
		t.Fatal(err)
	}
	used := map[string]string{}
	for _, m := range rep.Messages {
		if m.Code == "MI0031" {
			used[m.Subject] = m.Message
		}
	}
	if !strings.Contains(used["node type mi.small"], "default/web") || !strings.Contains(used["node type mi.large"], "default/api") {
		t.Errorf("predict did not apply each node type's profile: %v (stderr %s)", used, perr)
	}
}

// denyImage marks the agents denyHostPID's policy refuses.
const denyImage = "example.invalid/meshinsight-agent:deny-hostpid"

// denyHostPID installs a ValidatingAdmissionPolicy refusing Jobs whose pods
// share the host's PID namespace, for the length of the test.
func denyHostPID(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	name := "meshinsight-test-deny-hostpid"
	deny := []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule: admissionregistrationv1.Rule{APIGroups: []string{"batch"}, APIVersions: []string{"v1"}, Resources: []string{"jobs"}}},
			}}},
			Validations: []admissionregistrationv1.Validation{{
				// Only this test's runs (their image) are refused: other
				// tests may be creating agents at the same time.
				Expression: "!object.spec.template.spec.containers.exists(c, c.image == '" + denyImage + "') || !has(object.spec.template.spec.hostPID) || !object.spec.template.spec.hostPID",
				Message:    "meshinsight test: no hostPID",
			}},
		}}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: name, ValidationActions: deny}}
	ar := cs.AdmissionregistrationV1()
	if _, err := ar.ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the policy: %v", err)
	}
	t.Cleanup(func() { ar.ValidatingAdmissionPolicies().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	if _, err := ar.ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the policy binding: %v", err)
	}
	t.Cleanup(func() {
		ar.ValidatingAdmissionPolicyBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}
