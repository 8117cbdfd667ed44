//go:build node

package nodetest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// env is what the suite shares: the node's exports and the plugin on PATH.
var env struct {
	ctx        context.Context
	repo       string
	kubeconfig string
	node       string
	dir        string // the node's state dir
	image      string // the agent image imported on the node
	version    string // the plugin's version: the image's tag
	path       string // PATH with kubectl and kubectl-meshinsight first
	kubectl    string
}

// TestMain brings the real node up (unless MESHINSIGHT_NODE_KUBECONFIG
// names a running one), runs the suite and takes the node down again; then
// the host must equal its state from before the node came up.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) (code int) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "the real-node suite starts kubelet, containerd and eBPF agents: run it as root (make test-node)")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env.ctx = ctx
	wd, err := os.Getwd()
	if err != nil {
		return fail(err)
	}
	env.repo = filepath.Clean(filepath.Join(wd, "..", ".."))
	env.version = strings.TrimSpace(output("git", "-C", env.repo, "describe", "--tags", "--always", "--dirty"))
	if env.version == "" {
		env.version = "dev"
	}

	var before *hostState
	exports := map[string]string{}
	if kc := os.Getenv("MESHINSIGHT_NODE_KUBECONFIG"); kc != "" {
		fmt.Println("nodetest: using the running node of MESHINSIGHT_NODE_KUBECONFIG; the host is not checked after it")
		for _, k := range []string{"MESHINSIGHT_NODE_KUBECONFIG", "MESHINSIGHT_NODE_NAME", "MESHINSIGHT_NODE_DIR", "MESHINSIGHT_AGENT_IMAGE"} {
			exports[k] = os.Getenv(k)
		}
	} else {
		before, err = snapshotHost()
		if err != nil {
			return fail(fmt.Errorf("recording the host before the node: %w", err))
		}
		started := time.Now()
		out, err := script(ctx, "node-up.sh")
		if err != nil {
			return fail(fmt.Errorf("node-up.sh: %w", err))
		}
		fmt.Printf("nodetest: node up in %v\n", time.Since(started).Round(time.Second))
		nodeNetns = netnsOf("/run/netns/meshinsight-node")
		for _, line := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok {
				exports[k] = v
			}
		}
		defer func() {
			started := time.Now()
			if _, err := script(context.Background(), "node-down.sh"); err != nil {
				fmt.Fprintf(os.Stderr, "nodetest: node-down.sh: %v\n", err)
				code = 1
			}
			fmt.Printf("nodetest: node down in %v\n", time.Since(started).Round(time.Second))
			if diff, err := before.diff(); err != nil || diff != "" {
				fmt.Fprintf(os.Stderr, "nodetest: the host differs from before the node came up (%v):\n%s", err, diff)
				code = 1
			} else {
				fmt.Println("nodetest: the host equals its state from before the node came up " +
					"(mounts, cgroups, links, netns, iptables, sysctls, processes, the node's directories)")
			}
		}()
	}
	env.kubeconfig, env.node, env.dir, env.image =
		exports["MESHINSIGHT_NODE_KUBECONFIG"], exports["MESHINSIGHT_NODE_NAME"], exports["MESHINSIGHT_NODE_DIR"], exports["MESHINSIGHT_AGENT_IMAGE"]
	if env.kubeconfig == "" || env.node == "" || env.dir == "" || env.image == "" {
		return fail(fmt.Errorf("node-up.sh did not export the node (got %v)", exports))
	}
	env.version = env.image[strings.LastIndex(env.image, ":")+1:]
	if err := installPlugin(); err != nil {
		return fail(err)
	}
	return m.Run()
}

// installPlugin builds kubectl-meshinsight at the node's agent image
// version (so that its default --image is the imported one) into a
// directory that PATH lists first, next to the kubectl the control plane
// was built with: tests run `kubectl meshinsight`, as users do.
func installPlugin() error {
	bin, err := os.MkdirTemp("", "mi-nodetest-bin-")
	if err != nil {
		return err
	}
	build := exec.Command("go", "build", "-trimpath", "-ldflags",
		"-X github.com/meshinsight/kubectl-meshinsight/pkg/version.Version="+env.version,
		"-o", filepath.Join(bin, "kubectl-meshinsight"), "./cmd/kubectl-meshinsight")
	build.Dir, build.Env = env.repo, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the plugin: %w\n%s", err, out)
	}
	cache := strings.TrimSpace(output("bash", "-c", "source "+filepath.Join(env.repo, "hack/testenv/lib.sh")+" && echo $TESTENV_BIN"))
	env.kubectl = filepath.Join(cache, "kubectl")
	if err := os.Symlink(env.kubectl, filepath.Join(bin, "kubectl")); err != nil {
		return err
	}
	env.path = bin + string(os.PathListSeparator) + os.Getenv("PATH")
	return nil
}

// script runs a hack/testenv script, its progress passed through, and
// returns its stdout.
func script(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(env.repo, "hack", "testenv", name), args...)
	cmd.Env = append(os.Environ(), "VERSION="+env.version)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	return string(out), err
}

func output(name string, args ...string) string {
	out, _ := exec.Command(name, args...).Output()
	return string(out)
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "nodetest:", err)
	return 1
}

// lines splits command output into its non-empty lines.
func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// netnsOf names a network namespace file as /proc/PID/ns/net links do.
func netnsOf(path string) string {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return ""
	}
	return fmt.Sprintf("net:[%d]", st.Ino)
}
