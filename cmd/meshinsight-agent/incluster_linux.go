package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/manifests"
	"github.com/meshinsight/kubectl-meshinsight/pkg/agent"
)

// sidecarName is the container Istio injects.
const sidecarName = "istio-proxy"

// inClusterConfig turns cfg into a measurement of the injected benchmark
// pods of --target: it waits for them, finds their Envoy and application
// processes through their cgroups (the agent runs with hostPID), and
// builds one PodTestbed per variant whose targets are the mTLS or the
// plaintext Service (mesh) and the server's excluded ports (bypass).
func (h *handoffOptions) inClusterConfig(ctx context.Context, cfg *agent.Config, log io.Writer) error {
	if h.targetNamespace == "" || h.target == "" {
		return fmt.Errorf("--in-cluster needs --target-namespace and --target")
	}
	kc, err := h.client()
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	server, err := waitReady(wctx, kc, h.targetNamespace, manifests.ServerPod(h.target))
	if err != nil {
		return err
	}
	client, err := waitReady(wctx, kc, h.targetNamespace, manifests.ClientPod(h.target))
	if err != nil {
		return err
	}
	image := sidecarImage(server)
	if image == "" || sidecarImage(client) == "" {
		return fmt.Errorf("the benchmark pods have no %s sidecar: is injection enabled for namespace %s? "+
			"(ambient mode, measured at ztunnel, is not supported by this agent version)", sidecarName, h.targetNamespace)
	}
	sprocs, err := agent.FindPodProcesses("/proc", string(server.UID))
	if err != nil {
		return err
	}
	cprocs, err := agent.FindPodProcesses("/proc", string(client.UID))
	if err != nil {
		return err
	}
	inbound, err := agent.PickProcess(sprocs, "envoy")
	if err != nil {
		return fmt.Errorf("server pod %s (does the agent run with hostPID on its node?): %w", server.Name, err)
	}
	outbound, err := agent.PickProcess(cprocs, "envoy")
	if err != nil {
		return fmt.Errorf("client pod %s: %w", client.Name, err)
	}
	app, err := agent.PickProcess(cprocs, "meshinsight-agent")
	if err != nil {
		return fmt.Errorf("client pod %s: %w", client.Name, err)
	}
	svcIP := map[bool]string{}
	for _, mtls := range []bool{true, false} {
		svc, err := kc.CoreV1().Services(h.targetNamespace).Get(ctx, manifests.Service(h.target, mtls), metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("getting the benchmark Service: %w", err)
		}
		svcIP[mtls] = svc.Spec.ClusterIP
	}
	fmt.Fprintf(log, "meshinsight-agent: measuring %s: outbound envoy %d (pod %s), inbound envoy %d (pod %s), load from pid %d's network namespace\n",
		image, outbound, client.Name, inbound, server.Name, app)

	cfg.Proxy, cfg.Mesh, cfg.ProxyVersion = "envoy", "istio", imageTag(image)
	cfg.Testbeds = func(_ context.Context, v agent.Variant) (agent.Testbed, error) {
		mesh, bypass := manifests.MeshPort, manifests.BypassPort
		if v.Protocol == "tcp" {
			mesh, bypass = manifests.TCPMeshPort, manifests.TCPBypassPort
		}
		return &agent.PodTestbed{
			ClientNetns: fmt.Sprintf("/proc/%d/ns/net", app), Outbound: outbound, Inbound: inbound,
			Mesh:   net.JoinHostPort(svcIP[v.MTLS], strconv.Itoa(mesh)),
			Bypass: net.JoinHostPort(server.Status.PodIP, strconv.Itoa(bypass)),
			Helper: v.Helper, Dir: v.Dir, Prefix: v.Prefix,
		}, nil
	}
	return cfg.Validate()
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
		if c.Name == sidecarName {
			return c.Image
		}
	}
	return ""
}

func imageTag(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image[i+1:]
	}
	return "latest"
}
