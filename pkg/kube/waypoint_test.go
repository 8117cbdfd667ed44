package kube

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

func waypointFor(namespace, name, traffic string) *unstructured.Unstructured {
	u := waypointGateway(namespace, name)
	u.SetLabels(map[string]string{"istio.io/waypoint-for": traffic})
	return u
}

// TestWaypointsAndProxiesAreNotApplications: the Deployments behind
// Gateways, ztunnel's DaemonSet and istiod get a role; each waypoint gets its
// Deployment's replicas.
func TestWaypointsAndProxiesAreNotApplications(t *testing.T) {
	gwLabels := map[string]string{"gateway.networking.k8s.io/gateway-name": "wp", "gateway.istio.io/managed": "istio.io-mesh-controller"}
	objs := []runtime.Object{
		ns("shop", map[string]string{"istio.io/dataplane-mode": "ambient"}), ns("istio-system", nil),
		deployment("shop", "wp", 2, gwLabels),
		deployment("shop", "ingress-istio", 1, map[string]string{"gateway.networking.k8s.io/gateway-name": "ingress"}),
		deployment("shop", "api", 1, map[string]string{"app": "api"}),
		deployment("istio-system", "istiod", 1, map[string]string{"app": "istiod", "istio": "pilot"}),
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "ztunnel", Namespace: "istio-system"},
			Spec:   appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "ztunnel"}}}},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3}},
	}
	top, err := Discover(context.Background(), fake.NewClientset(objs...), fakeDynamic(t, waypointFor("shop", "wp", "service")), Options{AllNamespaces: true})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]Role{"shop/wp": RoleWaypoint, "shop/ingress-istio": RoleGateway, "shop/api": RoleApplication,
		"istio-system/istiod": RoleControlPlane, "istio-system/ztunnel": RoleZtunnel} {
		if got := byID(t, top, id).Role; got != want {
			t.Errorf("%s role = %q, want %q", id, got, want)
		}
	}
	if len(top.Waypoints) != 1 || top.Waypoints[0].Replicas != 2 {
		t.Errorf("waypoints = %+v, want wp with its Deployment's 2 replicas", top.Waypoints)
	}
}

// TestWaypointForDecidesWhichTrafficCrossesIt: a Service's (or namespace's)
// waypoint serves calls to the Service when it takes service traffic; a
// pod's serves calls addressed to the pods (headless Services) when it
// takes workload traffic; a namespace's label applies to each type only
// through a waypoint that takes it.
func TestWaypointForDecidesWhichTrafficCrossesIt(t *testing.T) {
	app := func(a string, extra ...string) map[string]string {
		l := map[string]string{"app": a}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return l
	}
	headless := service("pods", "db", app("db"), nil, corev1.ServicePort{Name: "http", Port: 80})
	headless.Spec.ClusterIP = corev1.ClusterIPNone
	objs := []runtime.Object{
		ns("pods", map[string]string{"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "ns-wp"}),
		deployment("pods", "db", 1, app("db", "istio.io/use-waypoint", "db-wp")),
		deployment("pods", "api", 1, app("api")),
		deployment("pods", "misfit", 1, app("misfit", "istio.io/use-waypoint", "ns-wp")),
		deployment("pods", "optout", 1, app("optout")),
		headless,
		service("pods", "api", app("api"), nil, corev1.ServicePort{Name: "http", Port: 80}),
		service("pods", "optout", app("optout"), map[string]string{"istio.io/use-waypoint": "none"}, corev1.ServicePort{Name: "http", Port: 80}),
		service("pods", "misfit", app("misfit"), map[string]string{"istio.io/use-waypoint": "db-wp"}, corev1.ServicePort{Name: "http", Port: 80}),
	}
	top, err := Discover(context.Background(), fake.NewClientset(objs...),
		fakeDynamic(t, waypointFor("pods", "ns-wp", "service"), waypointFor("pods", "db-wp", "workload")), Options{Namespace: "pods"})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]DataPlane{
		// headless db: its pods' waypoint, not the namespace's
		"pods/db": {Mode: dataplane.Waypoint, Waypoint: "pods/db-wp", WorkloadWaypoint: "pods/db-wp"},
		// the namespace's waypoint takes service traffic only: api's Service
		"pods/api": {Mode: dataplane.Waypoint, Waypoint: "pods/ns-wp"},
		// a pod naming a service waypoint gets none for its pods; its Service
		// names a workload waypoint, so that has none either
		"pods/misfit": {Mode: dataplane.Ambient},
		"pods/optout": {Mode: dataplane.Ambient},
	} {
		dp := byID(t, top, id).DataPlane
		if dp.Mode != want.Mode || dp.Waypoint != want.Waypoint || dp.WorkloadWaypoint != want.WorkloadWaypoint {
			t.Errorf("%s = %s via %q (pods %q), want %s via %q (pods %q)", id, dp.Mode, dp.Waypoint, dp.WorkloadWaypoint, want.Mode, want.Waypoint, want.WorkloadWaypoint)
		}
	}
	svcs := map[string]Service{}
	for _, s := range top.Services {
		svcs[s.ID()] = s
	}
	if s := svcs["pods/db"]; !s.Headless {
		t.Errorf("db is headless: %+v", s)
	}
	if s := svcs["pods/api"]; s.Waypoint != "pods/ns-wp" {
		t.Errorf("api's Service waypoint = %q", s.Waypoint)
	}
	if !diag.Has(top.Messages, diag.MeshConfigSimplified, "pods/ns-wp") || !diag.Has(top.Messages, diag.MeshConfigSimplified, "pods/db-wp") {
		t.Errorf("waypoints named where they take no such traffic are not reported: %v", top.Messages)
	}
}
