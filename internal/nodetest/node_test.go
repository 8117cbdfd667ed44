//go:build node

package nodetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshinsight/kubectl-meshinsight/manifests"
)

// plugin is one `kubectl meshinsight ...` run through the real kubectl.
type plugin struct {
	cmd *exec.Cmd
	out *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startPlugin starts `kubectl meshinsight ARGS` with the node's kubeconfig
// and a private profile store (XDG_CONFIG_HOME=xdg).
func startPlugin(t *testing.T, xdg string, args ...string) *plugin {
	t.Helper()
	t.Logf("$ kubectl meshinsight %s", strings.Join(args, " "))
	cmd := exec.Command(env.kubectl, append([]string{"meshinsight"}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+env.path, "KUBECONFIG="+env.kubeconfig, "XDG_CONFIG_HOME="+xdg)
	p := &plugin{cmd: cmd, out: &lockedBuffer{}}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting kubectl meshinsight: %v", err)
	}
	return p
}

// wait waits for the plugin, at most limit, and logs its output.
func (p *plugin) wait(t *testing.T, limit time.Duration) (string, error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(limit):
		_ = p.cmd.Process.Kill()
		<-done
		t.Fatalf("kubectl meshinsight still running after %v; output:\n%s", limit, p.out.String())
	}
	out := p.out.String()
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		t.Logf("  | %s", l)
	}
	return out, err
}

func runPlugin(t *testing.T, xdg string, limit time.Duration, args ...string) (string, error) {
	t.Helper()
	return startPlugin(t, xdg, args...).wait(t, limit)
}

func kube(t *testing.T) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", env.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

// runNamespace waits for the namespace of the profiling run that starts
// now and returns its name.
func runNamespace(ctx context.Context, t *testing.T, kc kubernetes.Interface, known map[string]bool) string {
	t.Helper()
	for {
		list, err := kc.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: manifests.ManagedByLabel + "=" + manifests.ManagedBy})
		if err == nil {
			for _, n := range list.Items {
				if !known[n.Name] {
					return n.Name
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no profiling namespace appeared: %v", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// watchPods logs every phase and container state change of the run's pods
// until ctx ends, and calls onRunning once for each pod that turns Running.
func watchPods(ctx context.Context, t *testing.T, kc kubernetes.Interface, ns string, onRunning func(*corev1.Pod)) {
	seen := map[string]string{}
	for ctx.Err() == nil {
		pods, err := kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			for i := range pods.Items {
				p := &pods.Items[i]
				state := string(p.Status.Phase)
				for _, c := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
					switch {
					case c.State.Waiting != nil:
						state += fmt.Sprintf(" %s:%s", c.Name, c.State.Waiting.Reason)
					case c.State.Running != nil:
						state += fmt.Sprintf(" %s:running(ready=%v)", c.Name, c.Ready)
					case c.State.Terminated != nil:
						state += fmt.Sprintf(" %s:exited(%d %s)", c.Name, c.State.Terminated.ExitCode, c.State.Terminated.Reason)
					}
				}
				if seen[p.Name] != state {
					t.Logf("pod %s on %s: %s", p.Name, p.Spec.NodeName, state)
					if p.Status.Phase == corev1.PodRunning && !strings.HasPrefix(seen[p.Name], "Running") && onRunning != nil {
						onRunning(p)
					}
					seen[p.Name] = state
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// nodeListing is what a run leaves on the node, by kind.
type nodeListing map[string][]string

// listNode lists the node's running containers (tasks), all containers,
// pod network namespaces, the nat and filter rules of its netns, the eBPF
// programs of the agent loaded in the kernel and the profiling namespaces.
func listNode(ctx context.Context, t *testing.T, kc kubernetes.Interface) nodeListing {
	t.Helper()
	l := nodeListing{}
	pid, err := os.ReadFile(filepath.Join(env.dir, "containerd.pid"))
	if err != nil {
		t.Fatalf("reading containerd's pid: %v", err)
	}
	ctr := func(args ...string) []string {
		base := []string{"-t", strings.TrimSpace(string(pid)), "-m", "-n", "ctr", "--address",
			filepath.Join(env.dir, "containerd", "containerd.sock"), "--namespace", "k8s.io"}
		out, err := exec.CommandContext(ctx, "nsenter", append(base, args...)...).Output()
		if err != nil {
			t.Fatalf("ctr %v: %v", args, err)
		}
		return lines(string(out))
	}
	l["tasks"] = ctr("tasks", "ls", "-q")
	l["containers"] = ctr("containers", "ls", "-q")
	netns, err := exec.CommandContext(ctx, "nsenter", "-t", strings.TrimSpace(string(pid)), "-m",
		"ls", filepath.Join(env.dir, "containerd", "state", "io.containerd.grpc.v1.cri", "netns")).Output()
	if err != nil {
		t.Fatalf("listing the pods' network namespaces: %v", err)
	}
	l["netns"] = lines(string(netns))
	rules, err := exec.CommandContext(ctx, "nsenter", "--net=/run/netns/meshinsight-node", "iptables-save").Output()
	if err != nil {
		t.Fatalf("iptables-save in the node: %v", err)
	}
	counters := regexp.MustCompile(`\[\d+:\d+\]`)
	for _, r := range lines(string(rules)) {
		if !strings.HasPrefix(r, "#") {
			l["iptables"] = append(l["iptables"], counters.ReplaceAllString(r, ""))
		}
	}
	l["bpf"] = agentPrograms(t)
	nss, err := kc.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: manifests.ManagedByLabel + "=" + manifests.ManagedBy})
	if err != nil {
		t.Fatalf("listing namespaces: %v", err)
	}
	for _, n := range nss.Items {
		l["namespaces"] = append(l["namespaces"], n.Name)
	}
	for _, v := range l {
		slices.Sort(v)
	}
	return l
}

// agentProgramNames are the eBPF programs the agent loads (bpf/*.bpf.c).
var agentProgramNames = []string{"sched_switch", "sched_wakeup", "sched_wakeup_new", "sample", "sock_send_length", "sock_recv_length"}

// agentPrograms lists the agent's eBPF programs loaded in the kernel, by
// ID and name. Links hold their program, so a leaked link shows here too.
func agentPrograms(t *testing.T) []string {
	t.Helper()
	var out []string
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			break
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // unloaded meanwhile
		}
		info, err := p.Info()
		p.Close()
		if err != nil {
			continue
		}
		for _, n := range agentProgramNames {
			if info.Name == n[:min(len(n), 15)] { // the kernel keeps 15 bytes
				out = append(out, fmt.Sprintf("%d %s", id, info.Name))
			}
		}
	}
	return out
}

// diff describes what l has that base has not, and rules base had that l
// has not.
func (l nodeListing) diff(base nodeListing, kinds ...string) string {
	var b strings.Builder
	for _, k := range kinds {
		for _, v := range l[k] {
			if !slices.Contains(base[k], v) {
				fmt.Fprintf(&b, "  + %s %s\n", k, v)
			}
		}
		// A rule that went missing matters (kube-proxy's, the CNI's); other
		// things may come and go with what else runs on the machine.
		for _, v := range base[k] {
			if k == "iptables" && !slices.Contains(l[k], v) {
				fmt.Fprintf(&b, "  - %s %s\n", k, v)
			}
		}
	}
	return b.String()
}

// requireClean checks that the node is back to base after a run: running
// containers, pod network namespaces, iptables rules, eBPF programs and
// namespaces at once (allowing kube-proxy a resync), exited containers
// within the kubelet's garbage-collection period. It logs the listing.
func requireClean(ctx context.Context, t *testing.T, kc kubernetes.Interface, base nodeListing) {
	t.Helper()
	check := func(limit time.Duration, kinds ...string) {
		deadline := time.Now().Add(limit)
		for {
			l := listNode(ctx, t, kc)
			d := l.diff(base, kinds...)
			if d == "" {
				for _, k := range kinds {
					t.Logf("node after the run: %s: %d, as before (%s)", k, len(l[k]), strings.Join(shortened(l[k]), ", "))
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("left on the node after %v:\n%s", limit, d)
			}
			time.Sleep(time.Second)
		}
	}
	check(15*time.Second, "namespaces", "tasks", "netns", "bpf", "iptables")
	// The kubelet removes exited containers of deleted pods in its
	// container garbage collection, once a minute.
	check(100*time.Second, "containers")
}

func shortened(v []string) []string {
	out := make([]string, 0, len(v))
	for _, s := range v {
		if len(s) > 16 && !strings.Contains(s, " ") {
			s = s[:12]
		}
		out = append(out, s)
	}
	if len(out) > 8 {
		out = append(out[:8], fmt.Sprintf("… %d more", len(v)-8))
	}
	return out
}

// podProcesses are the host processes of a pod's containers (the agent's
// pod here), found through its cgroup.
func podProcesses(uid string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cg, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		if err != nil || !strings.Contains(string(cg), "pod"+uid+"/") {
			continue
		}
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err == nil {
			out = append(out, pid)
		}
	}
	return out
}
