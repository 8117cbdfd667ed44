package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/meshinsight/kubectl-meshinsight/hack/standin/proxyconfig"
)

// Annotations and labels of Istio's injector that the stand-in honours or
// sets, spelled as Istio spells them.
const (
	annInject               = "sidecar.istio.io/inject"
	annStatus               = "sidecar.istio.io/status"
	annExcludeInboundPorts  = "traffic.sidecar.istio.io/excludeInboundPorts"
	annIncludeInboundPorts  = "traffic.sidecar.istio.io/includeInboundPorts"
	annExcludeOutboundPorts = "traffic.sidecar.istio.io/excludeOutboundPorts"
	annExcludeOutboundIPs   = "traffic.sidecar.istio.io/excludeOutboundIPRanges"
	annIncludeOutboundIPs   = "traffic.sidecar.istio.io/includeOutboundIPRanges"
	labelTLSMode            = "security.istio.io/tlsMode"
	labelCanonicalName      = "service.istio.io/canonical-name"
	labelCanonicalRevision  = "service.istio.io/canonical-revision"
	proxyContainer          = "istio-proxy"
	initContainer           = "istio-init"
	// Inbound ports istio-iptables never redirects: Envoy's Prometheus
	// port, pilot-agent's readiness and merged-metrics ports.
	defaultExcludedInbound = "15090,15021,15020"
)

// injector mutates pods as Istio's sidecar injector does.
type injector struct {
	proxyImage string
	// istiodAddress is the stand-in's configuration API (the Service's
	// cluster IP and port): pods here have no cluster DNS, where Istio's
	// sidecars would resolve istiod.istio-system.svc.
	istiodAddress string
	revision      string
}

func (in *injector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		http.Error(w, fmt.Sprintf("decoding the AdmissionReview: %v", err), http.StatusBadRequest)
		return
	}
	resp := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	var pod corev1.Pod
	if err := json.Unmarshal(review.Request.Object.Raw, &pod); err != nil {
		resp.Result = &metav1.Status{Message: fmt.Sprintf("decoding the pod: %v", err)}
	} else if patch, why := in.patch(&pod, review.Request.Namespace); patch != nil {
		resp.Patch = patch
		resp.PatchType = ptr.To(admissionv1.PatchTypeJSONPatch)
		log.Printf("injected %s/%s%s", review.Request.Namespace, pod.Name, pod.GenerateName)
	} else {
		log.Printf("not injecting %s/%s%s: %s", review.Request.Namespace, pod.Name, pod.GenerateName, why)
	}
	review.Response = resp
	review.Request = nil
	out, _ := json.Marshal(review) // plain data: cannot fail
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// patch returns the JSON patch that injects pod, or nil and why not.
func (in *injector) patch(pod *corev1.Pod, ns string) ([]byte, string) {
	if v := pod.Annotations[annInject]; v == "false" {
		return nil, annInject + "=false"
	}
	if pod.Spec.HostNetwork {
		return nil, "host network"
	}
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if c.Name == proxyContainer {
			return nil, "already injected"
		}
	}
	labels := copyMap(pod.Labels)
	labels[labelTLSMode] = "istio"
	if _, ok := labels[labelCanonicalName]; !ok {
		labels[labelCanonicalName] = canonicalName(pod)
	}
	if _, ok := labels[labelCanonicalRevision]; !ok {
		labels[labelCanonicalRevision] = "latest"
	}
	ann := copyMap(pod.Annotations)
	status, _ := json.Marshal(map[string]any{
		"initContainers": []string{initContainer}, "containers": []string{proxyContainer},
		"volumes": []string{"istio-envoy"}, "revision": in.revision,
	})
	ann[annStatus] = string(status)
	ops := []patchOp{
		{"add", "/metadata/labels", labels},
		{"add", "/metadata/annotations", ann},
		{"add", "/spec/initContainers", append([]corev1.Container{in.initContainer(pod)}, pod.Spec.InitContainers...)},
		{"add", "/spec/containers", append(append([]corev1.Container{}, pod.Spec.Containers...), in.proxyContainer(ns))},
		{"add", "/spec/volumes", append(append([]corev1.Volume{}, pod.Spec.Volumes...), corev1.Volume{
			Name: "istio-envoy", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}},
		})},
	}
	b, _ := json.Marshal(ops) // plain data: cannot fail
	return b, ""
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// initContainer is istio-init: istio-iptables with the pod's exclusions.
func (in *injector) initContainer(pod *corev1.Pod) corev1.Container {
	excludedIn := defaultExcludedInbound
	if v := pod.Annotations[annExcludeInboundPorts]; v != "" {
		excludedIn += "," + v
	}
	includedIn := "*"
	if v, ok := pod.Annotations[annIncludeInboundPorts]; ok {
		includedIn = v
	}
	includedOut := "*"
	if v, ok := pod.Annotations[annIncludeOutboundIPs]; ok {
		includedOut = v
	}
	args := []string{"istio-iptables",
		"-p", fmt.Sprint(proxyconfig.OutboundPort), "-z", fmt.Sprint(proxyconfig.InboundPort),
		"-u", fmt.Sprint(proxyconfig.ProxyUID), "-m", "REDIRECT",
		"-i", includedOut, "-x", pod.Annotations[annExcludeOutboundIPs],
		"-b", includedIn, "-d", excludedIn,
		"-o", pod.Annotations[annExcludeOutboundPorts],
		"--log_output_level=default:info",
	}
	return corev1.Container{
		Name: initContainer, Image: in.proxyImage, ImagePullPolicy: corev1.PullIfNotPresent, Args: args,
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("40Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1Gi")},
		},
		SecurityContext: &corev1.SecurityContext{
			RunAsUser: ptr.To[int64](0), RunAsGroup: ptr.To[int64](0), RunAsNonRoot: ptr.To(false),
			Privileged: ptr.To(false), AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(false),
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_ADMIN", "NET_RAW"}},
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
}

// proxyContainer is istio-proxy: pilot-agent running the proxy as uid 1337.
func (in *injector) proxyContainer(ns string) corev1.Container {
	field := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	return corev1.Container{
		Name: proxyContainer, Image: in.proxyImage, ImagePullPolicy: corev1.PullIfNotPresent,
		Args: []string{"proxy", "sidecar", "--domain", ns + ".svc.cluster.local", "--proxyLogLevel=warning"},
		Env: []corev1.EnvVar{
			field("POD_NAME", "metadata.name"), field("POD_NAMESPACE", "metadata.namespace"),
			field("INSTANCE_IP", "status.podIP"), field("SERVICE_ACCOUNT", "spec.serviceAccountName"),
			{Name: "ISTIOD_ADDRESS", Value: in.istiodAddress},
		},
		Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 15090, Protocol: corev1.ProtocolTCP}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz/ready", Port: intstr.FromInt32(proxyconfig.ReadinessPort)}},
			InitialDelaySeconds: 0, PeriodSeconds: 1, TimeoutSeconds: 3, FailureThreshold: 30,
		},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1Gi")},
		},
		SecurityContext: &corev1.SecurityContext{
			RunAsUser: ptr.To[int64](proxyconfig.ProxyUID), RunAsGroup: ptr.To[int64](proxyconfig.ProxyUID), RunAsNonRoot: ptr.To(true),
			Privileged: ptr.To(false), AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
		VolumeMounts:             []corev1.VolumeMount{{Name: "istio-envoy", MountPath: "/etc/istio/proxy"}},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
}

// canonicalName is Istio's canonical service name: the app label, else the
// pod's name prefix.
func canonicalName(pod *corev1.Pod) string {
	for _, k := range []string{"app.kubernetes.io/name", "app"} {
		if v := pod.Labels[k]; v != "" {
			return v
		}
	}
	if pod.GenerateName != "" {
		return strings.TrimSuffix(pod.GenerateName, "-")
	}
	return pod.Name
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+3)
	for k, v := range m {
		out[k] = v
	}
	return out
}
