//go:build node

package nodetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// hostState is what the node may touch on the host, as sets of lines.
type hostState struct {
	parts map[string][]string
	// volatile sysctls change by themselves (counters, random state):
	// those that differed between two reads before the node came up.
	volatile map[string]bool
}

// volatileSysctls change without anyone writing them.
var volatileSysctls = regexp.MustCompile(`^(fs\.(dentry-state|file-nr|inode-nr|inode-state|quota\..*)|kernel\.random\..*|` +
	`kernel\.ns_last_pid|kernel\.pty\.nr|net\.netfilter\.nf_conntrack_count|vm\.stat_refresh)$`)

func snapshotHost() (*hostState, error) {
	a, err := readHost()
	if err != nil {
		return nil, err
	}
	b, err := readHost()
	if err != nil {
		return nil, err
	}
	h := &hostState{parts: a, volatile: map[string]bool{}}
	bs := map[string]string{}
	for _, l := range b["sysctl"] {
		k, v, _ := strings.Cut(l, " = ")
		bs[k] = v
	}
	for _, l := range a["sysctl"] {
		k, v, _ := strings.Cut(l, " = ")
		if bs[k] != v {
			h.volatile[k] = true
		}
	}
	return h, nil
}

// readHost reads the host's mounts, cgroups, links, network namespaces,
// iptables rules, sysctls, the node's processes and directories.
func readHost() (map[string][]string, error) {
	p := map[string][]string{}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	for _, l := range lines(string(mi)) {
		f := strings.Fields(l)
		fs := ""
		if i := slices.Index(f, "-"); i >= 0 && i+1 < len(f) {
			fs = f[i+1]
		}
		p["mounts"] = append(p["mounts"], f[4]+" "+fs)
	}
	_ = filepath.WalkDir("/sys/fs/cgroup", func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.Count(strings.TrimPrefix(path, "/sys/fs/cgroup"), "/") > 3 {
			return filepath.SkipDir
		}
		p["cgroups"] = append(p["cgroups"], path)
		return nil
	})
	for _, l := range lines(output("ip", "-o", "link")) {
		if f := strings.Fields(l); len(f) > 1 {
			p["links"] = append(p["links"], f[1])
		}
	}
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		p["netns"] = append(p["netns"], e.Name())
	}
	counters := regexp.MustCompile(`\[\d+:\d+\]`)
	for _, l := range lines(output("iptables-save")) {
		if !strings.HasPrefix(l, "#") {
			p["iptables"] = append(p["iptables"], counters.ReplaceAllString(l, ""))
		}
	}
	sysctl, err := exec.Command("sysctl", "-a").Output()
	if err != nil {
		return nil, fmt.Errorf("sysctl -a: %w", err)
	}
	for _, l := range lines(string(sysctl)) {
		if k, _, _ := strings.Cut(l, " = "); !volatileSysctls.MatchString(k) {
			p["sysctl"] = append(p["sysctl"], l)
		}
	}
	p["processes"] = nodeProcesses()
	for _, d := range []string{"/run/containerd", "/var/lib/cni", "/var/lib/kubelet", "/var/log/containers", "/run/netns/meshinsight-node"} {
		if _, err := os.Stat(d); err == nil {
			p["paths"] = append(p["paths"], d)
		}
	}
	for _, v := range p {
		slices.Sort(v)
	}
	return p, nil
}

// nodeNetns is the node's network namespace ("net:[INODE]"), recorded
// once it is up: a process still in it after node-down.sh is a leftover
// even though /run/netns no longer names it.
var nodeNetns string

// nodeProcesses lists processes that belong to a node, whatever else runs
// on the host: those in its network namespace or its cgroup root, and those
// whose command line names its state dir (containerd, its shims, the
// control plane).
func nodeProcesses() []string {
	var out []string
	dir := os.Getenv("MESHINSIGHT_NODE_DIR")
	if dir == "" {
		dir = "/tmp/meshinsight-node"
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p := filepath.Join("/proc", e.Name())
		cmdline, err := os.ReadFile(filepath.Join(p, "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue // exited, or a kernel thread
		}
		netns, _ := os.Readlink(filepath.Join(p, "ns", "net"))
		cg, _ := os.ReadFile(filepath.Join(p, "cgroup"))
		args := strings.ReplaceAll(string(cmdline), "\x00", " ")
		if (nodeNetns != "" && netns == nodeNetns) || strings.Contains(string(cg), "/meshinsight-node/") || strings.Contains(args, dir) {
			out = append(out, e.Name()+" "+strings.TrimSpace(args))
		}
	}
	return out
}

// diff reads the host again and describes what the host has now that it
// did not have before the node came up.
func (h *hostState) diff() (string, error) {
	now, err := readHost()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, part := range []string{"mounts", "cgroups", "links", "netns", "iptables", "sysctl", "processes", "paths"} {
		was, is := h.parts[part], now[part]
		if part == "sysctl" {
			was, is = h.stable(was), h.stable(is)
		}
		for _, l := range is {
			if !slices.Contains(was, l) {
				fmt.Fprintf(&b, "  + %s: %s\n", part, l)
			}
		}
		for _, l := range was {
			if !slices.Contains(is, l) {
				// Gone meanwhile: not something the node left behind, but
				// say so (another process on the host removed it).
				fmt.Printf("nodetest: note: %s %q existed before the node and is gone now\n", part, l)
			}
		}
	}
	return b.String(), nil
}

func (h *hostState) stable(sysctls []string) []string {
	var out []string
	for _, l := range sysctls {
		if k, _, _ := strings.Cut(l, " = "); !h.volatile[k] {
			out = append(out, l)
		}
	}
	return out
}
