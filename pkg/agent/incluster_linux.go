//go:build linux

package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/manifests"
	"github.com/meshinsight/kubectl-meshinsight/pkg/imageref"
	"github.com/meshinsight/kubectl-meshinsight/pkg/loadgen"
)

// SidecarContainer is the container Istio injects.
const SidecarContainer = "istio-proxy"

// BTFPath is the kernel's own type information, which the eBPF programs are
// relocated against (CO-RE). The agent pod mounts it from the node.
const BTFPath = "/sys/kernel/btf/vmlinux"

// InCluster measures the injected benchmark pods that `kubectl meshinsight
// profile` deploys for one target (manifests.ServerPod, ClientPod and the
// mTLS and plaintext Services): the agent runs beside them on their node
// with the host PID namespace and finds each pod's proxy through its
// sidecar container's cgroup; the client pod's own load server sends the
// load (RemoteLoad), so that the client's redirection rules intercept it as
// they do the application's traffic.
type InCluster struct {
	Kube      kubernetes.Interface
	Namespace string
	Target    string
	// LoadToken is the bearer token of the client pod's load server.
	LoadToken string
	// ProcRoot is the host's /proc; empty means "/proc".
	ProcRoot string
	// BTF is the kernel BTF file to check for; empty means BTFPath.
	BTF string
	// ReadyTimeout bounds the wait for the pods and for the mesh path
	// through their proxies; zero means 3 minutes.
	ReadyTimeout time.Duration
	Log          io.Writer
}

// benchPods are the pods and Service addresses of one target.
type benchPods struct {
	server, client *corev1.Pod
	// serviceIP is the cluster IP of the mTLS (true) and plaintext Service.
	serviceIP map[bool]string
}

// Configure waits for the benchmark pods, finds their proxies and sets cfg
// to measure them: the proxy kind (from the executable, which selects the
// classification rules), the mesh and version, and a testbed per variant.
func (ic *InCluster) Configure(ctx context.Context, cfg *Config) error {
	if ic.Namespace == "" || ic.Target == "" {
		return errors.New("in-cluster measurement needs the benchmark namespace and target")
	}
	btf := ic.BTF
	if btf == "" {
		btf = BTFPath
	}
	if _, err := os.Stat(btf); err != nil {
		return fmt.Errorf("kernel BTF not found (%w): the eBPF programs need a kernel built with CONFIG_DEBUG_INFO_BTF=y "+
			"and the agent pod must mount the node's /sys/kernel/btf (manifests/agent.yaml does)", err)
	}
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		if caps, err := EffectiveCapabilities(string(status)); err == nil {
			ic.logf("running with capabilities %s", strings.Join(caps, ","))
		}
	}
	timeout := ic.ReadyTimeout
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pods, err := ic.waitPods(wctx)
	if err != nil {
		return err
	}
	image := sidecarImage(pods.server)
	if image == "" || sidecarImage(pods.client) == "" {
		return fmt.Errorf("the benchmark pods have no %s sidecar: is injection enabled for namespace %s? "+
			"(ambient mode, measured at ztunnel, is not supported by this agent version)", SidecarContainer, ic.Namespace)
	}
	out, in, err := ic.proxies(pods)
	if err != nil {
		return err
	}
	ic.logf("measuring the %s sidecars (%s): outbound pid %d in pod %s, inbound pid %d in pod %s",
		out.Kind(), image, out.PID, pods.client.Name, in.PID, pods.server.Name)
	cfg.Proxy, cfg.Mesh, cfg.ProxyVersion = out.Kind(), "istio", imageref.Parse(image).PulledTag()
	cfg.Testbeds = func(ctx context.Context, v Variant) (Testbed, error) {
		return ic.testbed(ctx, pods, v, timeout)
	}
	return cfg.Validate()
}

// testbed makes sure the mesh path of a variant answers through both
// proxies (a sidecar may not know the server's endpoint yet when its pod
// turns Ready, and a stand-in proxy restarts on configuration changes),
// then finds the proxies that serve it.
func (ic *InCluster) testbed(ctx context.Context, pods *benchPods, v Variant, timeout time.Duration) (Testbed, error) {
	mesh, bypass := manifests.MeshPort, manifests.BypassPort
	proto := loadgen.HTTP
	if v.Protocol == "tcp" {
		mesh, bypass, proto = manifests.TCPMeshPort, manifests.TCPBypassPort, loadgen.TCP
	}
	bed := &PodTestbed{
		Mesh:   net.JoinHostPort(pods.serviceIP[v.MTLS], strconv.Itoa(mesh)),
		Bypass: net.JoinHostPort(pods.server.Status.PodIP, strconv.Itoa(bypass)),
		Load:   RemoteLoad(net.JoinHostPort(pods.client.Status.PodIP, strconv.Itoa(manifests.LoadPort)), ic.LoadToken),
	}
	probe := LoadJob{Rounds: 1, Mesh: loadgen.LoadConfig{Protocol: proto, Target: bed.Mesh, RatePerSecond: 20,
		RequestBytes: 64, ResponseBytes: 64, Duration: 200 * time.Millisecond, Connections: 1, Timeout: 2 * time.Second}}
	deadline := time.Now().Add(timeout)
	for attempt := 1; ; attempt++ {
		_, err := bed.RunLoad(ctx, probe)
		if err == nil {
			break
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return nil, fmt.Errorf("the mesh path to %s (%s, mTLS %s) does not answer through the sidecars after %d attempts: %w",
				bed.Mesh, v.Protocol, onOff(v.MTLS), attempt, err)
		}
		if attempt == 1 {
			ic.logf("waiting for the mesh path to %s through the sidecars: %v", bed.Mesh, firstLine(err))
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	// Found after the path answered: a proxy that restarted on a
	// configuration change (the stand-in's haproxy) has a new process.
	out, in, err := ic.proxies(pods)
	if err != nil {
		return nil, err
	}
	bed.Outbound, bed.Inbound = out.PID, in.PID
	return bed, nil
}

// proxies finds the client's (outbound) and the server's (inbound) proxy.
func (ic *InCluster) proxies(pods *benchPods) (out, in ContainerProcess, err error) {
	if out, err = ic.proxyOf(pods.client); err != nil {
		return out, in, err
	}
	if in, err = ic.proxyOf(pods.server); err != nil {
		return out, in, err
	}
	if out.Kind() != in.Kind() {
		return out, in, fmt.Errorf("the client's proxy is %s but the server's is %s: both pods must run the same sidecar", out.Kind(), in.Kind())
	}
	return out, in, nil
}

// proxyOf finds the proxy process in a pod's sidecar container.
func (ic *InCluster) proxyOf(pod *corev1.Pod) (ContainerProcess, error) {
	id, uid, err := sidecarContainer(pod)
	if err != nil {
		return ContainerProcess{}, err
	}
	procs, err := FindContainerProcesses(ic.procRoot(), id)
	if err != nil {
		return ContainerProcess{}, err
	}
	if len(procs) == 0 {
		return ContainerProcess{}, fmt.Errorf("no process of container %s of pod %s under %s: does the agent run with hostPID on the pod's node?",
			SidecarContainer, pod.Name, ic.procRoot())
	}
	p, err := PickProxy(procs, uid)
	if err != nil {
		return p, fmt.Errorf("pod %s, container %s: %w", pod.Name, SidecarContainer, err)
	}
	return p, nil
}

// sidecarContainer returns the running sidecar's container ID and the uid
// it runs as (-1 when the pod does not say).
func sidecarContainer(pod *corev1.Pod) (id string, uid int, err error) {
	uid = -1
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if c.Name != SidecarContainer {
			continue
		}
		switch {
		case c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil:
			uid = int(*c.SecurityContext.RunAsUser)
		case pod.Spec.SecurityContext != nil && pod.Spec.SecurityContext.RunAsUser != nil:
			uid = int(*pod.Spec.SecurityContext.RunAsUser)
		}
	}
	for _, s := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		if s.Name == SidecarContainer && s.State.Running != nil {
			id, err := ContainerID(s.ContainerID)
			return id, uid, err
		}
	}
	return "", uid, fmt.Errorf("pod %s has no running %s container", pod.Name, SidecarContainer)
}

// waitPods waits until both benchmark pods run with every container ready,
// and reads the Services' cluster IPs.
func (ic *InCluster) waitPods(ctx context.Context) (*benchPods, error) {
	server, err := waitReady(ctx, ic.Kube, ic.Namespace, manifests.ServerPod(ic.Target))
	if err != nil {
		return nil, err
	}
	client, err := waitReady(ctx, ic.Kube, ic.Namespace, manifests.ClientPod(ic.Target))
	if err != nil {
		return nil, err
	}
	pods := &benchPods{server: server, client: client, serviceIP: map[bool]string{}}
	for _, mtls := range []bool{true, false} {
		svc, err := ic.Kube.CoreV1().Services(ic.Namespace).Get(ctx, manifests.Service(ic.Target, mtls), metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("getting the benchmark Service: %w", err)
		}
		pods.serviceIP[mtls] = svc.Spec.ClusterIP
	}
	return pods, nil
}

func (ic *InCluster) procRoot() string {
	if ic.ProcRoot == "" {
		return "/proc"
	}
	return ic.ProcRoot
}

func (ic *InCluster) logf(format string, a ...any) {
	if ic.Log != nil {
		fmt.Fprintf(ic.Log, "meshinsight-agent: "+format+"\n", a...)
	}
}

// waitReady waits until the pod runs with every container ready.
func waitReady(ctx context.Context, kc kubernetes.Interface, ns, name string) (*corev1.Pod, error) {
	for {
		p, err := kc.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" && allReady(p) {
			return p, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for pod %s/%s to be ready: %w (last error: %v)", ns, name, ctx.Err(), err)
		case <-time.After(time.Second):
		}
	}
}

func allReady(p *corev1.Pod) bool {
	for _, c := range p.Status.ContainerStatuses {
		if !c.Ready {
			return false
		}
	}
	return len(p.Status.ContainerStatuses) > 0
}

// sidecarImage is the image of the injected proxy: a container, or a
// native sidecar (an init container that keeps running).
func sidecarImage(p *corev1.Pod) string {
	for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
		if c.Name == SidecarContainer {
			return c.Image
		}
	}
	return ""
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
