package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// PodProcess is a process of a pod, found through its cgroup.
type PodProcess struct {
	PID  int
	Comm string
}

// FindPodProcesses lists the processes under procRoot (normally "/proc",
// seen with the host PID namespace) whose cgroup belongs to the pod with
// UID uid. Kubelets name pod cgroups "pod<uid>" (cgroupfs driver) or
// "...-pod<uid with _ for ->.slice" (systemd driver); both are matched.
func FindPodProcesses(procRoot, uid string) ([]PodProcess, error) {
	if uid == "" {
		return nil, fmt.Errorf("empty pod uid")
	}
	needles := []string{"pod" + uid, "pod" + strings.ReplaceAll(uid, "-", "_")}
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", procRoot, err)
	}
	var out []PodProcess
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		cg, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "cgroup"))
		if err != nil {
			continue // exited, or not ours to read
		}
		if !containsAny(string(cg), needles) {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join(procRoot, e.Name(), "comm"))
		out = append(out, PodProcess{PID: pid, Comm: strings.TrimSpace(string(comm))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, nil
}

func containsAny(s string, needles []string) bool {
	for _, n := range needles {
		if strings.Contains(s, n) {
			return true
		}
	}
	return false
}

// PickProcess returns the first process whose comm starts with prefix (comm
// is cut at 15 bytes, so "meshinsight-agent" is "meshinsight-age").
func PickProcess(procs []PodProcess, prefix string) (int, error) {
	for _, p := range procs {
		if strings.HasPrefix(p.Comm, prefix) || strings.HasPrefix(prefix, p.Comm) && len(p.Comm) == 15 {
			return p.PID, nil
		}
	}
	names := make([]string, len(procs))
	for i, p := range procs {
		names[i] = fmt.Sprintf("%s(%d)", p.Comm, p.PID)
	}
	return 0, fmt.Errorf("no %q process among %v", prefix, names)
}
