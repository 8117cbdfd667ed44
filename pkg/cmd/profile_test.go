package cmd

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/handoff"
	"github.com/meshinsight/kubectl-meshinsight/pkg/kube"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profilerun"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profilestore"
)

// profileCluster is a fake cluster with istiod and one Ready node of type
// m5.large, where every access review is allowed.
func profileCluster() *fake.Clientset {
	one := int32(1)
	istiod := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "istiod", Namespace: "istio-system", Labels: map[string]string{"app": "istiod"}},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "discovery", Image: "docker.io/istio/pilot:1.28.1"}}}}}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1",
		Labels: map[string]string{corev1.LabelOSStable: "linux", corev1.LabelInstanceTypeStable: "m5.large"}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			NodeInfo: corev1.NodeSystemInfo{KernelVersion: "6.1.0", Architecture: "amd64"}}}
	kc := fake.NewSimpleClientset(istiod, node)
	kc.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authv1.SelfSubjectAccessReview)
		r.Status.Allowed = true
		return true, r, nil
	})
	return kc
}

// fakeAgent plays the agent Job: once it exists it hands a profile back
// through the ConfigMap its --handoff argument names.
func fakeAgent(ctx context.Context, t *testing.T, kc *fake.Clientset) {
	ref, err := profile.Reference()
	if err != nil {
		t.Error(err)
		return
	}
	ref.Metadata.Name, ref.Metadata.Reference = "measured", false
	for ctx.Err() == nil {
		jobs, _ := kc.BatchV1().Jobs("").List(ctx, metav1.ListOptions{})
		for _, j := range jobs.Items {
			for _, arg := range j.Spec.Template.Spec.Containers[0].Args {
				if where, ok := strings.CutPrefix(arg, "--handoff="); ok {
					ns, name, _ := strings.Cut(where, "/")
					if err := handoff.Write(ctx, kc, ns, name, handoff.Status{State: handoff.Succeeded, Done: 1, Total: 1, Profile: ref}); err != nil {
						t.Error(err)
					}
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The whole profile command on a fake cluster: preflight, the run's
// namespace and Job, the agent's hand-off, the local and cluster stores, the
// summary, and the namespace deleted afterwards.
func TestProfileCommand(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	kc := profileCluster()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	o := NewProfileOptions(genericclioptions.NewConfigFlags(true), streams)
	o.clients = &kube.Clients{Kube: kc, Dynamic: dynamicfake.NewSimpleDynamicClient(runtime.NewScheme()), Context: "lab"}
	o.Node, o.SaveToCluster, o.Output, o.Image = "n1", true, "json", "example.invalid/agent:v1"
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go fakeAgent(ctx, t, kc)
	if err := o.Run(ctx); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var sum profileSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(sum.Profiles) != 1 || sum.Profiles[0].Node != "n1" || sum.Profiles[0].NodeType != "m5.large" || len(sum.Profiles[0].Stored) != 3 ||
		sum.Istio.Version != "1.28.1" || !strings.HasPrefix(sum.Namespace, profilerun.NamespacePrefix) {
		t.Errorf("summary %+v", sum)
	}
	if errOut.Len() != 0 {
		t.Errorf("-o json printed on stderr: %s", errOut)
	}
	dir, _ := profilestore.Dir()
	local, err := profilestore.LoadLocal(dir, "lab")
	if err != nil || local == nil || local.Default.Metadata.Name != "measured" || local.Default.Provenance.Platform.NodeType != "m5.large" {
		t.Errorf("local store: %+v, %v", local, err)
	}
	cluster, err := profilestore.LoadCluster(ctx, kc, "istio-system")
	if err != nil || cluster == nil || cluster.Default.Metadata.Name != "measured" {
		t.Errorf("cluster store: %+v, %v", cluster, err)
	}
	if _, err := kc.CoreV1().Namespaces().Get(ctx, sum.Namespace, metav1.GetOptions{}); err == nil {
		t.Errorf("namespace %s left behind", sum.Namespace)
	}
}

func TestProfileClientDryRunReadsNothing(t *testing.T) {
	for name, tc := range map[string]struct {
		node, want string
	}{
		"named node": {"n1", `nodeName: "n1"`},
		"no node":    {"", `nodeName: "NODE"`},
	} {
		t.Run(name, func(t *testing.T) {
			kc := profileCluster()
			streams, _, out, errOut := genericiooptions.NewTestIOStreams()
			o := NewProfileOptions(genericclioptions.NewConfigFlags(true), streams)
			o.clients = &kube.Clients{Kube: kc, Context: "lab"}
			o.DryRun, o.Node = dryRunClient, tc.node
			if err := o.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "kind: Job") || !strings.Contains(out.String(), tc.want) {
				t.Errorf("dry-run output lacks %s:\n%s", tc.want, out)
			}
			if !strings.Contains(errOut.String(), "client dry run: no cluster read; Istio assumed in istio-system") {
				t.Errorf("stderr does not say what was assumed:\n%s", errOut)
			}
			if a := kc.Actions(); len(a) != 0 {
				t.Errorf("client dry run called the API server: %v", a)
			}
		})
	}
}

// A client dry run works with no kubeconfig at all.
func TestProfileClientDryRunNeedsNoCluster(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := execute(t, "--kubeconfig", filepath.Join(dir, "none"), "profile", "--dry-run=client", "--node", "worker-1")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if !strings.Contains(out, `nodeName: "worker-1"`) {
		t.Errorf("output:\n%s", out)
	}
	if _, _, err := execute(t, "profile", "--dry-run=maybe"); err == nil || !strings.Contains(err.Error(), "want none, client or server") {
		t.Errorf("--dry-run=maybe: %v", err)
	}
}

func TestProfileValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		set  func(*ProfileOptions)
		want string
	}{
		"output":       {func(o *ProfileOptions) { o.Output = "xml" }, `unknown output format "xml"`},
		"node and all": {func(o *ProfileOptions) { o.Node, o.AllNodeTypes = "n1", true }, "--node cannot be combined"},
		"timeout":      {func(o *ProfileOptions) { o.Timeout = 0 }, "--timeout 0s: must be positive"},
		"concurrency":  {func(o *ProfileOptions) { o.Concurrency = 0 }, "--concurrency 0"},
		"image":        {func(o *ProfileOptions) { o.Image = "" }, "--image must not be empty"},
	} {
		t.Run(name, func(t *testing.T) {
			o := NewProfileOptions(genericclioptions.NewConfigFlags(true), genericiooptions.IOStreams{})
			tc.set(o)
			if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}
