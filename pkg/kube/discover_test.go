package kube

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

func ns(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func controller(kind, name string) []metav1.OwnerReference {
	t := true
	return []metav1.OwnerReference{{Kind: kind, Name: name, Controller: &t, APIVersion: "apps/v1"}}
}

func deployment(namespace, name string, replicas int32, labels map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{ServiceAccountName: name}}}}
}

func replicaSet(namespace, name, deploy string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, OwnerReferences: controller("Deployment", deploy)}}
}

type podOpt func(*corev1.Pod)

func withSidecar(cpu string) podOpt {
	return func(p *corev1.Pod) {
		c := corev1.Container{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.28.0"}
		if cpu != "" {
			c.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
		}
		p.Spec.Containers = append(p.Spec.Containers, c)
		p.Annotations = map[string]string{"sidecar.istio.io/status": "{}", "proxy.istio.io/config": "concurrency: 2\n"}
	}
}

func withNativeSidecar() podOpt {
	return func(p *corev1.Pod) {
		always := corev1.ContainerRestartPolicyAlways
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: "istio-proxy", RestartPolicy: &always})
	}
}

func pod(namespace, name, owner, ownerKind, node string, labels map[string]string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec:   corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1", Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	if owner != "" {
		p.OwnerReferences = controller(ownerKind, owner)
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func service(namespace, name string, selector map[string]string, labels map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: corev1.ServiceSpec{Selector: selector, Ports: ports}}
}

func node(name, instanceType string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelInstanceTypeStable: instanceType}},
		Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KernelVersion: "6.18.0", OperatingSystem: "linux", Architecture: "amd64"}}}
}

func waypointGateway(namespace, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("gateway.networking.k8s.io/v1")
	u.SetKind("Gateway")
	u.SetNamespace(namespace)
	u.SetName(name)
	u.SetLabels(map[string]string{"istio.io/waypoint-for": "service"})
	unstructured.SetNestedField(u.Object, "istio-waypoint", "spec", "gatewayClassName")
	return u
}

func fakeDynamic(t *testing.T, gws ...*unstructured.Unstructured) *dynamicfake.FakeDynamicClient {
	t.Helper()
	d := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{GatewayResource: "GatewayList"})
	for _, g := range gws {
		if _, err := d.Resource(GatewayResource).Namespace(g.GetNamespace()).Create(context.Background(), g, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// fixture: a sidecar namespace (bookinfo), an ambient namespace with a waypoint
// (shop), plus a CronJob, a bare pod, a native sidecar and a scaled-to-zero
// deployment.
func fixture() []runtime.Object {
	app := func(a string) map[string]string { return map[string]string{"app": a} }
	appv := func(a, v string) map[string]string { return map[string]string{"app": a, "version": v} }
	return []runtime.Object{
		ns("bookinfo", map[string]string{"istio-injection": "enabled"}),
		ns("shop", map[string]string{"istio.io/dataplane-mode": "ambient"}),
		node("n1", "m5.large"), node("n2", "c6i.xlarge"),
		deployment("bookinfo", "productpage-v1", 2, appv("productpage", "v1")),
		replicaSet("bookinfo", "productpage-v1-abc", "productpage-v1"),
		pod("bookinfo", "productpage-v1-abc-1", "productpage-v1-abc", "ReplicaSet", "n1", appv("productpage", "v1"), withSidecar("500m")),
		pod("bookinfo", "productpage-v1-abc-2", "productpage-v1-abc", "ReplicaSet", "n2", appv("productpage", "v1"), withSidecar("500m")),
		deployment("bookinfo", "reviews-v1", 1, appv("reviews", "v1")),
		replicaSet("bookinfo", "reviews-v1-x", "reviews-v1"),
		pod("bookinfo", "reviews-v1-x-1", "reviews-v1-x", "ReplicaSet", "n1", appv("reviews", "v1"), withNativeSidecar()),
		deployment("bookinfo", "reviews-v2", 0, appv("reviews", "v2")), // scaled to zero: injection from the namespace
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "ratings", Namespace: "bookinfo"}},
		pod("bookinfo", "ratings-0", "ratings", "StatefulSet", "n1", app("ratings")),
		&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "report-123", Namespace: "bookinfo", OwnerReferences: controller("CronJob", "report")}},
		pod("bookinfo", "report-123-q", "report-123", "Job", "n1", app("report")),
		pod("bookinfo", "debug", "", "", "n1", map[string]string{"run": "debug"}),
		service("bookinfo", "productpage", app("productpage"), nil, corev1.ServicePort{Name: "http", Port: 9080}),
		service("bookinfo", "reviews", app("reviews"), nil, corev1.ServicePort{Name: "http", Port: 9080}),
		service("bookinfo", "external", nil, nil, corev1.ServicePort{Port: 443}),
		deployment("shop", "cart", 1, app("cart")),
		replicaSet("shop", "cart-1", "cart"),
		pod("shop", "cart-1-a", "cart-1", "ReplicaSet", "n2", app("cart")),
		deployment("shop", "legacy", 1, app("legacy")),
		replicaSet("shop", "legacy-1", "legacy"),
		pod("shop", "legacy-1-a", "legacy-1", "ReplicaSet", "n2", map[string]string{"app": "legacy", "istio.io/dataplane-mode": "none"}),
		service("shop", "cart", app("cart"), map[string]string{"istio.io/use-waypoint": "shop-waypoint"},
			corev1.ServicePort{Name: "grpc", Port: 7070, AppProtocol: ptr("grpc")}),
	}
}

func ptr[T any](v T) *T { return &v }

func byID(t *testing.T, top *Topology, id string) Workload {
	t.Helper()
	for _, w := range top.Workloads {
		if w.ID() == id {
			return w
		}
	}
	t.Fatalf("workload %s not found in %v", id, ids(top))
	return Workload{}
}

func ids(top *Topology) []string {
	var out []string
	for _, w := range top.Workloads {
		out = append(out, w.Kind+":"+w.ID())
	}
	return out
}

func TestDiscoverAllNamespaces(t *testing.T) {
	cs := fake.NewClientset(fixture()...)
	top, err := Discover(context.Background(), cs, fakeDynamic(t, waypointGateway("shop", "shop-waypoint")), Options{AllNamespaces: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Deployment:bookinfo/productpage-v1", "StatefulSet:bookinfo/ratings", "CronJob:bookinfo/report", "Pod:bookinfo/debug",
		"Deployment:bookinfo/reviews-v1", "Deployment:bookinfo/reviews-v2", "Deployment:shop/cart", "Deployment:shop/legacy"}
	got := strings.Join(ids(top), " ")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %s in %s", w, got)
		}
	}
	if len(top.Workloads) != len(want) {
		t.Errorf("workloads = %s", got)
	}

	pp := byID(t, top, "bookinfo/productpage-v1")
	if pp.DataPlane.Mode != dataplane.Sidecar || pp.Replicas != 2 || len(pp.Pods) != 2 ||
		*pp.DataPlane.ProxyCPULimitMillicores != 500 || *pp.DataPlane.ProxyConcurrency != 2 ||
		strings.Join(pp.NodeTypes, ",") != "c6i.xlarge,m5.large" || pp.ServiceAccount != "productpage-v1" {
		t.Errorf("productpage = %+v", pp)
	}
	if r := byID(t, top, "bookinfo/reviews-v1"); r.DataPlane.Mode != dataplane.Sidecar || !r.DataPlane.Native {
		t.Errorf("native sidecar = %+v", r.DataPlane)
	}
	if r := byID(t, top, "bookinfo/reviews-v2"); r.DataPlane.Mode != dataplane.Sidecar || r.Replicas != 0 || len(r.Pods) != 0 {
		t.Errorf("scaled to zero = %+v", r)
	}
	if r := byID(t, top, "bookinfo/ratings"); r.DataPlane.Mode != dataplane.None {
		t.Errorf("ratings without sidecar = %+v", r.DataPlane)
	}
	if c := byID(t, top, "shop/cart"); c.DataPlane.Mode != dataplane.Waypoint || c.DataPlane.Waypoint != "shop/shop-waypoint" {
		t.Errorf("cart = %+v", c.DataPlane)
	}
	if l := byID(t, top, "shop/legacy"); l.DataPlane.Mode != dataplane.None {
		t.Errorf("opted-out pod = %+v", l.DataPlane)
	}

	var reviews, external Service
	for _, s := range top.Services {
		switch s.ID() {
		case "bookinfo/reviews":
			reviews = s
		case "bookinfo/external":
			external = s
		}
	}
	if strings.Join(reviews.Workloads, ",") != "bookinfo/reviews-v1,bookinfo/reviews-v2" || len(external.Workloads) != 0 {
		t.Errorf("reviews → %v, external → %v", reviews.Workloads, external.Workloads)
	}
	if len(top.Nodes) != 2 || len(top.Waypoints) != 1 {
		t.Errorf("nodes %v waypoints %v", top.Nodes, top.Waypoints)
	}
	if len(top.Messages) != 0 {
		t.Errorf("messages: %v", top.Messages)
	}
}

// TestDiscoverConstantRequests checks that discovery costs the same number of API
// requests for 3 pods as for 300.
func TestDiscoverConstantRequests(t *testing.T) {
	count := func(pods int) int {
		objs := []runtime.Object{ns("big", nil)}
		for i := range pods {
			objs = append(objs, pod("big", "p"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+strings.Repeat("y", i/26), "", "", "n1", nil))
		}
		cs := fake.NewClientset(objs...)
		if _, err := Discover(context.Background(), cs, fakeDynamic(t), Options{Namespace: "big"}); err != nil {
			t.Fatal(err)
		}
		return len(cs.Actions())
	}
	if a, b := count(3), count(300); a != b {
		t.Errorf("requests: %d for 3 pods, %d for 300", a, b)
	}
}

func TestDiscoverErrors(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset(fixture()...)
	if _, err := Discover(ctx, cs, nil, Options{Namespace: "nope"}); !errors.Is(err, ErrNamespaceNotFound) {
		t.Errorf("missing namespace: %v", err)
	}

	cs = fake.NewClientset(fixture()...)
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no"))
	})
	_, err := Discover(ctx, cs, nil, Options{Namespace: "bookinfo"})
	if err == nil || !strings.Contains(err.Error(), "kubectl auth can-i list pods") {
		t.Errorf("forbidden pods: %v", err)
	}

	// Forbidden nodes and namespaces degrade with a message instead of failing.
	cs = fake.NewClientset(fixture()...)
	for _, r := range []string{"nodes", "namespaces"} {
		r := r
		cs.PrependReactor("*", r, func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: r}, "", errors.New("no"))
		})
	}
	top, err := Discover(ctx, cs, nil, Options{Namespace: "bookinfo"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range top.Messages {
		if m.Code == diag.PartialTopology {
			n++
		}
	}
	if n != 2 {
		t.Errorf("messages = %v", top.Messages)
	}
}

func TestParseMillicores(t *testing.T) {
	for in, want := range map[string]int{"500m": 500, "2": 2000, "0.25": 250, " 100m ": 100} {
		if got, ok := parseMillicores(in); !ok || got != want {
			t.Errorf("%q: %d %v", in, got, ok)
		}
	}
	// Issue #13 item 14: huge values overflowed into negative limits.
	for _, bad := range []string{"", "m", "-1", "abc", "0", "1e300", "9223372036854775807m", "2000000000m", "0.0001", "NaN", "Inf"} {
		if _, ok := parseMillicores(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestServiceExportToAndReadyPods: a Service's exportTo annotation is read
// as a list, and a workload counts its ready pods (a Service's endpoints).
func TestServiceExportToAndReadyPods(t *testing.T) {
	objs := fixture()
	labels := map[string]string{"app": "productpage", "version": "v1"}
	scoped := service("bookinfo", "scoped", map[string]string{"app": "productpage"}, nil, corev1.ServicePort{Name: "http", Port: 80})
	scoped.Annotations = map[string]string{AnnotationExportTo: " ., ops "}
	notReady := pod("bookinfo", "productpage-v1-abc-3", "productpage-v1-abc", "ReplicaSet", "n1", labels, withSidecar("500m"))
	notReady.Status.Conditions[0].Status = corev1.ConditionFalse
	top, err := Discover(context.Background(), fake.NewClientset(append(objs, scoped, notReady)...), nil, Options{Namespace: "bookinfo"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range top.Services {
		want := ""
		if s.Name == "scoped" {
			want = ".|ops"
		}
		if got := strings.Join(s.ExportTo, "|"); got != want {
			t.Errorf("%s: exportTo %q, want %q", s.ID(), got, want)
		}
	}
	if pp := byID(t, top, "bookinfo/productpage-v1"); pp.ReadyPods() != 2 || len(pp.Pods) != 3 {
		t.Errorf("productpage: %d ready of %d pods, want 2 of 3", pp.ReadyPods(), len(pp.Pods))
	}
}
