//go:build node

package nodetest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/manifests"
	"github.com/meshinsight/kubectl-meshinsight/pkg/agent"
	"github.com/meshinsight/kubectl-meshinsight/pkg/handoff"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// agentCapabilities is the capability set of manifests/agent.yaml; each is
// shown necessary by TestEachCapabilityIsNeeded.
var agentCapabilities = []string{"BPF", "PERFMON", "SYS_PTRACE", "SYSLOG"}

// profileArgs is a short matrix: 2 protocols × mTLS on/off × 2 sizes × 2
// rates = 16 cells of 3 rounds. The rates stay low enough for this 2-core
// machine to keep up while it also runs the node, the sidecars at 0.3–0.9
// CPU-ms per request, the load generator and the echo servers.
var profileArgs = []string{"--sizes", "128,4096", "--rates", "200,500", "--rounds", "3"}

// TestProfileOnRealNode runs `kubectl meshinsight profile` as a user would,
// against the real node: the benchmark pods get the stand-in's injected
// haproxy sidecars, the agent pod runs with the manifests'
// securityContext, measures them, and hands the profile back with its
// service account; the plugin stores it; predict then uses it. Nothing of
// the run is left on the node.
func TestProfileOnRealNode(t *testing.T) {
	ctx, kc := env.ctx, kube(t)
	base := listNode(ctx, t, kc)
	xdg := t.TempDir()
	started := time.Now()
	p := startPlugin(t, xdg, append([]string{"profile", "--node", env.node}, profileArgs...)...)
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	ns := runNamespace(wctx, t, kc, set(base["namespaces"]))
	var mu sync.Mutex
	var caps []string
	var btf error
	var watched sync.WaitGroup
	watched.Go(func() {
		watchPods(wctx, t, kc, ns, func(pod *corev1.Pod) {
			if pod.Labels[manifests.ComponentLabel] != "agent" {
				return
			}
			watched.Go(func() { streamLogs(wctx, t, ns, pod.Name) })
			c, b := inspectAgent(wctx, t, pod)
			mu.Lock()
			caps, btf = c, b
			mu.Unlock()
		})
	})
	out, err := p.wait(t, 15*time.Minute)
	stopWatch()
	watched.Wait()
	if err != nil {
		t.Fatalf("profile failed: %v", err)
	}
	t.Logf("kubectl meshinsight profile on the real node: %v wall time", time.Since(started).Round(time.Second))
	requireClean(ctx, t, kc, base)

	mu.Lock()
	defer mu.Unlock()
	slices.Sort(caps)
	want := slices.Sorted(slices.Values(agentCapabilities))
	if !slices.Equal(caps, want) {
		t.Errorf("the agent ran with capabilities %v, want exactly %v", caps, want)
	}
	if btf != nil {
		t.Errorf("kernel BTF not visible in the agent pod: %v", btf)
	}

	stored := filepath.Join(xdg, "meshinsight", "profiles", "meshinsight-node.json")
	if !strings.Contains(out, stored) {
		t.Errorf("profile did not say it stored %s", stored)
	}
	prof, err := profile.ReadFile(stored)
	if err != nil {
		t.Fatalf("reading the stored profile: %v", err)
	}
	pl := prof.Provenance.Platform
	t.Logf("stored profile %q: %d models; platform %+v", prof.Metadata.Name, len(prof.Models), pl)
	if pl.Proxy != "haproxy" || pl.Mesh != "istio" || !strings.HasSuffix(pl.ProxyVersion, "-standin") {
		t.Errorf("platform %+v: want the stand-in's haproxy sidecars, detected from their executable", pl)
	}
	c := prof.Provenance.Checks
	if c == nil {
		t.Fatal("the profile has no measurement checks")
	}
	busy := "not recorded"
	if l := prof.Provenance.Load; l != nil && l.NodeBusy != nil {
		busy = fmt.Sprintf("%.0f%%", 100**l.NodeBusy)
	}
	t.Logf("checks: %d cells, %d kept up, mesh slower than bypass in %d; eBPF vs schedstat on-CPU: median %.1f%%, worst %.1f%%; "+
		"probes' throughput ratio %.3f; node CPUs busy while measured: %s",
		c.Cells, c.KeptUp, c.MeshSlower, 100*c.SchedstatAgreementMedian, 100*c.SchedstatAgreementWorst, c.ObserverThroughputRatio, busy)
	if c.Cells != 16 || c.KeptUp*4 < c.Cells*3 {
		t.Errorf("%d of %d cells kept up with their rate, want at least 3/4 (is the machine busy?)", c.KeptUp, c.Cells)
	}
	if c.MeshSlower != c.KeptUp {
		t.Errorf("mesh slower than bypass in %d of %d kept-up cells, want all", c.MeshSlower, c.KeptUp)
	}
	if c.SchedstatAgreementMedian > 0.05 {
		t.Errorf("eBPF and schedstat on-CPU figures %.1f%% apart (median), want ≤ 5%%", 100*c.SchedstatAgreementMedian)
	}

	// predict finds the stored profile for the context.
	out, err = runPlugin(t, xdg, time.Minute, "predict", "-f", filepath.Join(env.repo, "examples", "bookinfo.yaml"))
	if err != nil {
		t.Fatalf("predict: %v", err)
	}
	if want := fmt.Sprintf("Using the measured profile %q from %s", prof.Metadata.Name, stored); !strings.Contains(out, want) {
		t.Errorf("predict did not use the stored profile: want %q", want)
	}
}

// streamLogs logs a pod's output as the real kubelet serves it
// (`kubectl logs -f`), until the container or ctx ends.
func streamLogs(ctx context.Context, t *testing.T, ns, pod string) {
	cmd := kubectlCmd(ctx, "logs", "-f", "-n", ns, pod)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Errorf("kubectl logs: %v", err)
		return
	}
	if err := cmd.Start(); err != nil {
		t.Errorf("kubectl logs: %v", err)
		return
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		t.Logf("  %s | %s", pod, sc.Text())
	}
	_ = cmd.Wait()
}

// inspectAgent reads the agent's capabilities and BTF view from the host,
// through its process in the agent pod's cgroup.
func inspectAgent(ctx context.Context, t *testing.T, pod *corev1.Pod) ([]string, error) {
	for ctx.Err() == nil {
		for _, pid := range podProcesses(string(pod.UID)) {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if !strings.HasPrefix(string(comm), "meshinsight-age") {
				continue
			}
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				continue
			}
			caps, err := agent.EffectiveCapabilities(string(status))
			if err != nil {
				t.Errorf("agent pid %d: %v", pid, err)
			}
			_, btf := os.Stat(fmt.Sprintf("/proc/%d/root%s", pid, agent.BTFPath))
			t.Logf("agent pod %s: pid %d runs with capabilities %v; %s visible in the pod: %v", pod.Name, pid, caps, agent.BTFPath, btf == nil)
			return caps, btf
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, ctx.Err()
}

// TestEachCapabilityIsNeeded applies the plugin's own manifests (from
// --dry-run) with one capability of the agent removed at a time, and shows
// the agent fail for want of it, with an error that says what failed.
func TestEachCapabilityIsNeeded(t *testing.T) {
	ctx, kc := env.ctx, kube(t)
	base := listNode(ctx, t, kc)
	xdg := t.TempDir()
	dry := exec.CommandContext(ctx, env.kubectl, "meshinsight", "profile", "--dry-run", "--node", env.node,
		"--protocols", "http", "--sizes", "128", "--rates", "300", "--rounds", "1")
	dry.Env = append(os.Environ(), "PATH="+env.path, "KUBECONFIG="+env.kubeconfig, "XDG_CONFIG_HOME="+xdg)
	raw, err := dry.Output()
	if err != nil {
		t.Fatalf("kubectl meshinsight profile --dry-run: %v", err)
	}
	out := string(raw)
	yaml := out[strings.Index(out, "apiVersion:"):]
	yaml = yaml[:strings.LastIndex(yaml, "\n")+1]
	nsName := between(yaml, "kind: Namespace\nmetadata:\n  name: ", "\n")
	target := between(yaml, "--target=", "\"")
	if nsName == "" || target == "" {
		t.Fatalf("cannot find the namespace and target in the manifests:\n%s", yaml)
	}
	for _, capability := range agentCapabilities {
		t.Run(capability, func(t *testing.T) {
			line := "            - " + capability + "\n"
			if !strings.Contains(yaml, line) {
				t.Fatalf("the agent manifest does not add %s", capability)
			}
			ns := strings.Replace(nsName, "meshinsight-profile-", "meshinsight-profile-no"+strings.ToLower(strings.ReplaceAll(capability, "_", ""))+"-", 1)
			manifest := strings.ReplaceAll(strings.Replace(yaml, line, "", 1), nsName, ns)
			msg := applyAndWaitForAgent(ctx, t, kc, manifest, ns, "result-"+target)
			t.Logf("without %s the agent fails: %s", capability, msg)
			if msg == "" {
				t.Errorf("the agent succeeded without %s", capability)
			}
		})
	}
	requireClean(ctx, t, kc, base)
}

// applyAndWaitForAgent applies manifest with kubectl, waits for the agent's
// hand-off, deletes the namespace and returns the failure message ("" for
// success).
func applyAndWaitForAgent(ctx context.Context, t *testing.T, kc kubernetes.Interface, manifest, ns, result string) string {
	t.Helper()
	cmd := kubectlCmd(ctx, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(manifest)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	defer func() {
		if out, err := kubectlCmd(context.Background(), "delete", "namespace", ns, "--wait=true", "--timeout=90s").CombinedOutput(); err != nil {
			t.Errorf("deleting namespace %s: %v\n%s", ns, err, out)
		}
	}()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		cm, err := kc.CoreV1().ConfigMaps(ns).Get(ctx, result, metav1.GetOptions{})
		if err == nil {
			st, err := handoff.Read(cm)
			if err != nil {
				t.Fatalf("reading the hand-off: %v", err)
			}
			switch st.State {
			case handoff.Failed:
				return st.Message
			case handoff.Succeeded:
				return ""
			}
		}
		pods, _ := kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: manifests.ComponentLabel + "=agent"})
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				if tm := cs.State.Terminated; tm != nil && tm.ExitCode != 0 {
					return fmt.Sprintf("container exited with %d: %s %s", tm.ExitCode, tm.Reason, tm.Message)
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("the agent in %s neither succeeded nor failed in 3 minutes", ns)
	return ""
}

func kubectlCmd(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, env.kubectl, append([]string{"--kubeconfig", env.kubeconfig}, args...)...)
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	j := strings.Index(s, end)
	if j < 0 {
		return ""
	}
	return strings.Trim(s[:j], `"`)
}

// TestFailurePaths runs the plugin into each way a user's run can end
// badly on a real node, and checks what it says and that nothing of the
// run is left on the node afterwards.
func TestFailurePaths(t *testing.T) {
	ctx, kc := env.ctx, kube(t)
	long := append([]string{"profile", "--node", env.node}, "--sizes", "128,1024,4096,16384", "--rates", "300,1000", "--rounds", "5")
	for _, tc := range []struct {
		name string
		args []string
		// act, when set, acts on the running plugin once the agent measures.
		act  func(t *testing.T, p *plugin, ns string)
		want string
	}{
		{name: "image never pulled", want: "ErrImageNeverPull",
			args: []string{"profile", "--node", env.node, "--image", "localhost/meshinsight/absent:0", "--image-pull-policy", "Never"}},
		{name: "image pull fails", want: "ImagePullBackOff",
			args: []string{"profile", "--node", env.node, "--image", "localhost/meshinsight/absent:0"}},
		{name: "timeout", want: "timed out after 30s", args: append(slices.Clone(long), "--timeout", "30s")},
		{name: "ctrl-c", want: "context canceled", args: long,
			act: func(t *testing.T, p *plugin, _ string) {
				t.Log("sending SIGINT to kubectl meshinsight while the agent measures")
				if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "agent killed", want: "exited with 137", args: long,
			act: func(t *testing.T, _ *plugin, ns string) {
				pods, err := kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: manifests.ComponentLabel + "=agent"})
				if err != nil || len(pods.Items) != 1 {
					t.Fatalf("finding the agent pod: %v (%d pods)", err, len(pods.Items))
				}
				pids := podProcesses(string(pods.Items[0].UID))
				t.Logf("sending SIGKILL to the agent pod's processes %v", pids)
				for _, pid := range pids {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := listNode(ctx, t, kc)
			started := time.Now()
			p := startPlugin(t, t.TempDir(), tc.args...)
			if tc.act != nil {
				wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
				ns := runNamespace(wctx, t, kc, set(base["namespaces"]))
				waitMeasuring(wctx, t, kc, ns)
				cancel()
				tc.act(t, p, ns)
			}
			out, err := p.wait(t, 5*time.Minute)
			if err == nil {
				t.Fatal("the run succeeded")
			}
			t.Logf("%s: exit %v after %v", tc.name, err, time.Since(started).Round(time.Second))
			if !strings.Contains(out, tc.want) {
				t.Errorf("the error does not say %q", tc.want)
			}
			requireClean(ctx, t, kc, base)
		})
	}
}

// waitMeasuring waits until the agent has reported a measured cell.
func waitMeasuring(ctx context.Context, t *testing.T, kc kubernetes.Interface, ns string) {
	t.Helper()
	for {
		cms, err := kc.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			for i := range cms.Items {
				if st, err := handoff.Read(&cms.Items[i]); err == nil && st.State == handoff.Running && st.Done >= 1 {
					t.Logf("the agent measures: %s", st.Message)
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the agent in %s did not start measuring: %v", ns, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func set(v []string) map[string]bool {
	m := make(map[string]bool, len(v))
	for _, s := range v {
		m[s] = true
	}
	return m
}
