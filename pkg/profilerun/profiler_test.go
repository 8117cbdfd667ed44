package profilerun

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/meshinsight/kubectl-meshinsight/manifests"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

func node(name, typ string, ready, cordoned bool, taint corev1.TaintEffect) *corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelOSStable: "linux"}},
		Spec:   corev1.NodeSpec{Unschedulable: cordoned},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}, NodeInfo: corev1.NodeSystemInfo{KernelVersion: "6.1"}}}
	if typ != "" {
		n.Labels[corev1.LabelInstanceTypeStable] = typ
	}
	if taint != "" {
		n.Spec.Taints = []corev1.Taint{{Key: "x", Effect: taint}}
	}
	return n
}

func TestChooseNodes(t *testing.T) {
	kc := fake.NewSimpleClientset(
		node("a-notready", "m5", false, false, ""), node("b-cordoned", "m5", true, true, ""),
		node("c-tainted", "m5", true, false, corev1.TaintEffectNoSchedule), node("d", "m5", true, false, ""),
		node("e", "m5", true, false, ""), node("f", "c6g", true, false, ""))
	ctx := context.Background()
	got, _, err := ChooseNodes(ctx, kc, "", "", false)
	if err != nil || len(got) != 1 || got[0].Name != "d" {
		t.Errorf("default choice %v, %v; want d (first Ready, schedulable, untainted)", got, err)
	}
	got, _, err = ChooseNodes(ctx, kc, "", "", true)
	if err != nil || len(got) != 2 || got[0].Name != "d" || got[1].Name != "f" {
		t.Errorf("all node types %v, %v; want d (m5) and f (c6g)", got, err)
	}
	got, notes, err := ChooseNodes(ctx, kc, "a-notready", "", false)
	if err != nil || got[0].Name != "a-notready" || len(notes) != 1 {
		t.Errorf("--node a-notready: %v %v %v; want it with a note", got, notes, err)
	}
	if _, _, err := ChooseNodes(ctx, kc, "missing", "", false); err == nil || !strings.Contains(err.Error(), "kubectl get nodes") {
		t.Errorf("--node missing: %v", err)
	}
	if _, _, err := ChooseNodes(ctx, fake.NewSimpleClientset(node("x", "", false, false, "")), "", "", false); err == nil || !strings.Contains(err.Error(), "--node") {
		t.Errorf("no usable node: %v", err)
	}
}

func TestDetectIstio(t *testing.T) {
	ctx := context.Background()
	if _, err := DetectIstio(ctx, fake.NewSimpleClientset(), ""); !errors.Is(err, ErrIstioNotFound) {
		t.Errorf("no istiod: %v", err)
	}
	dep := func(ns, rev, image string) *appsv1.Deployment {
		l := map[string]string{"app": "istiod"}
		if rev != "" {
			l["istio.io/rev"] = rev
		}
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "istiod-" + rev, Namespace: ns, Labels: l},
			Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
				{Name: "discovery", Image: image}}}}}}
	}
	kc := fake.NewSimpleClientset(dep("istio-system", "canary", "gcr.io/istio-release/pilot:1.29.0"),
		dep("istio-system", "", "docker.io/istio/pilot:1.28.1@sha256:abc"),
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "ztunnel", Namespace: "istio-system"}})
	is, err := DetectIstio(ctx, kc, "")
	if err != nil {
		t.Fatal(err)
	}
	if is.Version != "1.28.1" || is.Revision != "default" || is.ProxyImage != "docker.io/istio/proxyv2:1.28.1" || !is.Ambient {
		t.Errorf("detected %+v", is)
	}

	// A digest-only image names no version: the operator's label does (it
	// was never read while a missing tag counted as "latest"); an untagged
	// one runs latest.
	pinned := dep("pinned", "", "docker.io/istio/pilot@sha256:abc")
	pinned.Labels["operator.istio.io/version"] = "1.28.2"
	kc = fake.NewSimpleClientset(pinned, dep("untagged", "", "docker.io/istio/pilot"))
	for ns, want := range map[string][2]string{"pinned": {"1.28.2", "docker.io/istio/proxyv2"}, "untagged": {"latest", "docker.io/istio/proxyv2:latest"}} {
		is, err := DetectIstio(ctx, kc, ns)
		if err != nil {
			t.Fatal(err)
		}
		if is.Version != want[0] || is.ProxyImage != want[1] {
			t.Errorf("%s: version %q, proxy image %q, want %q", ns, is.Version, is.ProxyImage, want)
		}
	}
}

func TestMissingPermissionsErrorListsAll(t *testing.T) {
	ps := Permissions("meshinsight-profile-x", "istio-system")
	err := &MissingPermissionsError{Missing: ps[:2]}
	msg := err.Error()
	for _, want := range []string{"lack 2 permission", "list nodes cluster-wide (to choose the node to profile)", "list deployments.apps", "kubectl auth can-i"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

func TestStampOverridesTheAgent(t *testing.T) {
	p := &Plan{Istio: &Istio{Version: "1.28.0"}, Nodes: []Node{{Name: "n1", Kubelet: "v1.36.3"}, {Name: "n2", Kubelet: "v1.35.0"}}}
	prof := &profile.Profile{Provenance: profile.Provenance{Platform: profile.Platform{NodeType: "forged", Mesh: "x", Proxy: "haproxy"}}}
	p.stamp(prof, manifests.Target{Node: "n2", NodeType: "m5.large"})
	want := profile.Platform{NodeType: "m5.large", Kubernetes: "v1.35.0", Mesh: "istio", MeshVersion: "1.28.0", Proxy: "haproxy"}
	if prof.Provenance.Platform != want {
		t.Errorf("platform %+v, want %+v", prof.Provenance.Platform, want)
	}
}
