package kube

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// Istio's labels and annotations that decide a pod's data plane.
const (
	proxyContainer       = "istio-proxy"
	labelInjection       = "istio-injection"         // namespace: enabled|disabled
	labelRevision        = "istio.io/rev"            // namespace or pod
	labelDataplaneMode   = "istio.io/dataplane-mode" // namespace or pod: ambient|none
	labelUseWaypoint     = "istio.io/use-waypoint"   // namespace, service or pod
	labelUseWaypointNS   = "istio.io/use-waypoint-namespace"
	labelWaypointFor     = "istio.io/waypoint-for"                  // on a waypoint Gateway
	labelGatewayName     = "gateway.networking.k8s.io/gateway-name" // on a Gateway's Deployment and pods
	labelGatewayManaged  = "gateway.istio.io/managed"
	managedByMesh        = "istio.io-mesh-controller" // Istio's value of labelGatewayManaged for waypoints
	labelSidecarInject   = "sidecar.istio.io/inject"  // pod label (or legacy annotation)
	annotationStatus     = "sidecar.istio.io/status"
	annotationProxyCPU   = "sidecar.istio.io/proxyCPULimit"
	annotationProxyCfg   = "proxy.istio.io/config"
	annotationRedirected = "ambient.istio.io/redirection" // set by istio-cni on captured pods
)

// dataPlane decides how a pod's traffic is proxied. fromTemplate is true for a pod
// template (no injection has happened yet), where namespace injection labels tell
// what the pods will get.
func (b *builder) dataPlane(ns string, p *corev1.Pod, fromTemplate bool) DataPlane {
	nsl := b.nsLabels[ns]
	if c, native := proxyOf(p); c != nil {
		dp := DataPlane{Mode: dataplane.Sidecar, Native: native, ProxyImage: c.Image, Revision: p.Labels[labelRevision], Reason: "istio-proxy container"}
		if native {
			dp.Reason = "istio-proxy native sidecar"
		}
		if q := c.Resources.Limits.Cpu(); q != nil && !q.IsZero() {
			m := int(q.MilliValue())
			dp.ProxyCPULimitMillicores = &m
		}
		b.proxySettings(p, &dp)
		return dp
	}
	if fromTemplate && injects(p, nsl) {
		dp := DataPlane{Mode: dataplane.Sidecar, Revision: firstNonEmpty(p.Labels[labelRevision], nsl[labelRevision]), Reason: "sidecar injection enabled (no pod yet)"}
		b.proxySettings(p, &dp)
		return dp
	}
	if ambient, reason := ambientEnrolled(p, nsl); ambient {
		dp := DataPlane{Mode: dataplane.Ambient, Reason: reason}
		if id, via := useWaypoint(p.Labels, nsl, ns, "its pods"); id != "" {
			if id = b.applicableWaypoint(id, via, WaypointForWorkload); id != "" {
				dp.Mode, dp.Waypoint, dp.WorkloadWaypoint = dataplane.Waypoint, id, id
				dp.Reason = "istio.io/use-waypoint on " + via
			}
		}
		return dp
	}
	return DataPlane{Mode: dataplane.None, Reason: "no sidecar and not enrolled in ambient"}
}

// useWaypoint reads istio.io/use-waypoint (with istio.io/use-waypoint-namespace)
// from an object's own labels, else from its namespace's: the waypoint's
// "namespace/name" and what named it (via, or the namespace), or "" when
// none is named or the object opts out with "none".
func useWaypoint(own, nsLabels map[string]string, ns, via string) (id, named string) {
	if name, ok := own[labelUseWaypoint]; ok {
		if name == "" || name == "none" {
			return "", ""
		}
		return firstNonEmpty(own[labelUseWaypointNS], ns) + "/" + name, via
	}
	if name := nsLabels[labelUseWaypoint]; name != "" && name != "none" {
		return firstNonEmpty(nsLabels[labelUseWaypointNS], ns) + "/" + name, "namespace " + ns
	}
	return "", ""
}

// applicableWaypoint returns waypoint id if it takes the traffic type
// (WaypointForService or WaypointForWorkload), else "". A waypoint that
// does not exist is reported and kept (the calls then fail in the cluster),
// except for a namespace's label and workload traffic;
// one named on an object itself that does not take that traffic is
// reported and dropped (a namespace's label applies to both types, each
// waypoint taking its own).
func (b *builder) applicableWaypoint(id, via, traffic string) string {
	w, ok := b.waypoints[id]
	if !ok {
		if traffic == WaypointForWorkload && strings.HasPrefix(via, "namespace ") {
			return "" // as Istio's default, a namespace's waypoint is for services
		}
		b.notes.Add(diag.New(diag.WaypointMissing, id, "%s uses waypoint %q but no Gateway of class istio-waypoint has that name", via, id))
		return id
	}
	if w.Serves(traffic) {
		return id
	}
	if !strings.HasPrefix(via, "namespace ") {
		b.notes.Add(diag.New(diag.MeshConfigSimplified, id, "%s uses waypoint %q, which takes %s traffic only (%s=%s): %s calls do not cross it",
			via, id, firstNonEmpty(w.For, WaypointForService), labelWaypointFor, firstNonEmpty(w.For, WaypointForService), traffic))
	}
	return ""
}

// roleOf tells what a pod (or pod template) is from its labels: a
// waypoint's or another Gateway's Deployment, ztunnel, istiod, or an
// application.
func (b *builder) roleOf(ns string, p *corev1.Pod) Role {
	l := p.Labels
	if gw := l[labelGatewayName]; gw != "" {
		if _, ok := b.waypoints[ns+"/"+gw]; ok || l[labelGatewayManaged] == managedByMesh {
			return RoleWaypoint
		}
		return RoleGateway
	}
	switch {
	case l[labelGatewayManaged] == managedByMesh, l["istio.io/gateway-name"] != "" && isWaypointPod(p):
		return RoleWaypoint
	case l["app"] == "ztunnel", l["app.kubernetes.io/name"] == "ztunnel":
		return RoleZtunnel
	case l["app"] == "istiod", l["istio"] == "pilot":
		return RoleControlPlane
	}
	return RoleApplication
}

// gatewayOf is the name of the Gateway a waypoint workload is deployed for.
func gatewayOf(w *Workload) string {
	return firstNonEmpty(w.Labels[labelGatewayName], w.Labels["istio.io/gateway-name"])
}

// proxyOf finds the istio-proxy container: a regular container, or an init container
// with restartPolicy Always (a native sidecar).
func proxyOf(p *corev1.Pod) (*corev1.Container, bool) {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == proxyContainer {
			return &p.Spec.Containers[i], false
		}
	}
	for i := range p.Spec.InitContainers {
		c := &p.Spec.InitContainers[i]
		if c.Name == proxyContainer && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			return c, true
		}
	}
	return nil, false
}

// injects reports whether a template's pods will get a sidecar: the pod's own
// sidecar.istio.io/inject wins, then the namespace's istio-injection or istio.io/rev.
func injects(p *corev1.Pod, nsLabels map[string]string) bool {
	if v, ok := p.Labels[labelSidecarInject]; ok {
		return v == "true"
	}
	if v, ok := p.Annotations[labelSidecarInject]; ok {
		return v == "true"
	}
	if nsLabels[labelInjection] == "enabled" {
		return true
	}
	return nsLabels[labelInjection] != "disabled" && nsLabels[labelRevision] != ""
}

// ambientEnrolled reports ambient capture: istio-cni's redirection annotation, or
// istio.io/dataplane-mode=ambient on the pod or its namespace (a pod's "none" opts
// out).
func ambientEnrolled(p *corev1.Pod, nsLabels map[string]string) (bool, string) {
	if p.Annotations[annotationRedirected] == "enabled" {
		return true, "ambient redirection enabled on pod"
	}
	switch p.Labels[labelDataplaneMode] {
	case "ambient":
		return true, "istio.io/dataplane-mode=ambient on pod"
	case "none":
		return false, ""
	}
	if nsLabels[labelDataplaneMode] == "ambient" {
		return true, "istio.io/dataplane-mode=ambient on namespace"
	}
	return false, ""
}

// proxySettings reads concurrency and CPU limit from Istio's annotations.
func (b *builder) proxySettings(p *corev1.Pod, dp *DataPlane) {
	if v := p.Annotations[annotationProxyCPU]; v != "" && dp.ProxyCPULimitMillicores == nil {
		if m, ok := parseMillicores(v); ok {
			dp.ProxyCPULimitMillicores = &m
		} else {
			b.notes.Add(diag.New(diag.PartialTopology, p.Namespace+"/"+p.Name, "cannot parse %s=%q", annotationProxyCPU, v))
		}
	}
	if v := p.Annotations[annotationProxyCfg]; v != "" {
		var cfg struct {
			Concurrency *int `json:"concurrency"`
		}
		switch err := sigsyaml.Unmarshal([]byte(v), &cfg); {
		case err != nil:
			b.notes.Add(diag.New(diag.PartialTopology, p.Namespace+"/"+p.Name, "cannot parse %s: %v", annotationProxyCfg, err))
		case cfg.Concurrency != nil && (*cfg.Concurrency < 0 || *cfg.Concurrency > callgraph.MaxProxyConcurrency):
			b.notes.Add(diag.New(diag.PartialTopology, p.Namespace+"/"+p.Name, "%s: concurrency %d is outside 0 to %d; ignored",
				annotationProxyCfg, *cfg.Concurrency, callgraph.MaxProxyConcurrency))
		default:
			dp.ProxyConcurrency = cfg.Concurrency
		}
	}
	if _, ok := p.Annotations[annotationStatus]; ok && dp.Revision == "" {
		dp.Revision = "default"
	}
}

// parseMillicores parses a CPU quantity such as "500m" or "2": at least
// one millicore and at most what a call graph may hold (a huge value
// overflowed into a negative limit, which predict -f then rejected).
func parseMillicores(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if m, ok := strings.CutSuffix(s, "m"); ok {
		v, err := strconv.Atoi(m)
		return v, err == nil && v > 0 && v <= callgraph.MaxProxyCPULimitMillicores
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v*1000 >= 1) || v*1000 > callgraph.MaxProxyCPULimitMillicores {
		return 0, false
	}
	return int(v * 1000), true
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
