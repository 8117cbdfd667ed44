package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ProxyKinds are the proxy executables the agent recognises in a pod's
// sidecar container, each with a classification rule file of the same name
// (pkg/classify). The proxy of a container is found by its executable, not
// by the container's name or image: Istio's istio-proxy container also runs
// pilot-agent, and a test environment may run another proxy binary there.
var ProxyKinds = []string{"envoy", "haproxy", "nginx", "linkerd2-proxy", "ztunnel"}

// ContainerProcess is a process of one container, read from /proc.
type ContainerProcess struct {
	PID int
	// UID is the real user id.
	UID int
	// Exe is the executable's path inside the container (empty when it
	// cannot be read).
	Exe string
	// Comm is the kernel's short name (15 bytes at most).
	Comm string
	// StartTicks is when the process started, in clock ticks after boot.
	StartTicks uint64
}

// ErrNoProxy is returned when a container runs no known proxy.
var ErrNoProxy = errors.New("no proxy process found")

// ContainerID returns the bare ID of a container status ID such as
// "containerd://3f2a…" or "cri-o://…".
func ContainerID(statusID string) (string, error) {
	_, id, ok := strings.Cut(statusID, "://")
	if !ok || id == "" || strings.ContainsAny(id, "/ ") {
		return "", fmt.Errorf("container ID %q: want RUNTIME://ID", statusID)
	}
	return id, nil
}

// InContainer reports whether a /proc/PID/cgroup file puts the process in
// the container with the given ID. Every layout a kubelet creates ends the
// container's cgroup path with its ID: cgroupfs driver
// ".../kubepods[/QOS]/pod<UID>/<ID>" (cgroup v1, one line per hierarchy,
// or v2's single "0::" line), systemd driver
// ".../kubepods-QOS-pod<UID>.slice/<runtime>-<ID>.scope" (cri-containerd,
// crio, docker).
func InContainer(cgroupFile, id string) bool {
	if id == "" {
		return false
	}
	for _, line := range strings.Split(cgroupFile, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		last := filepath.Base(parts[2])
		if last == id || strings.HasSuffix(last, "-"+id+".scope") {
			return true
		}
	}
	return false
}

// FindContainerProcesses lists the processes under procRoot (normally
// "/proc" seen with the host PID namespace) that run in the container with
// the given ID, oldest first.
func FindContainerProcesses(procRoot, id string) ([]ContainerProcess, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", procRoot, err)
	}
	var out []ContainerProcess
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		dir := filepath.Join(procRoot, e.Name())
		cg, err := os.ReadFile(filepath.Join(dir, "cgroup"))
		if err != nil || !InContainer(string(cg), id) {
			continue // exited, not ours to read, or another container
		}
		p, err := readProcess(dir, pid)
		if err != nil {
			continue // exited meanwhile
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b ContainerProcess) int {
		if a.StartTicks != b.StartTicks {
			return cmpUint(a.StartTicks, b.StartTicks)
		}
		return a.PID - b.PID
	})
	return out, nil
}

func cmpUint(a, b uint64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

func readProcess(dir string, pid int) (ContainerProcess, error) {
	p := ContainerProcess{PID: pid, UID: -1}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return p, err
	}
	p.UID = statusUID(string(status))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return p, err
	}
	p.Comm, p.StartTicks = parseStat(string(stat))
	// Reading another user's exe link needs ptrace access (the agent's
	// SYS_PTRACE); without it the kind falls back to comm.
	p.Exe, _ = os.Readlink(filepath.Join(dir, "exe"))
	p.Exe = strings.TrimSuffix(p.Exe, " (deleted)")
	return p, nil
}

// statusUID is the real UID on a /proc/PID/status file's Uid line, -1
// without one.
func statusUID(status string) int {
	uid := -1
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				if n, err := strconv.Atoi(f[0]); err == nil && n >= 0 {
					uid = n
				}
			}
		}
	}
	return uid
}

// parseStat reads a /proc/PID/stat line's comm and starttime (clock ticks
// after boot); "" and 0 for what it lacks. comm may hold spaces and
// parentheses: the fields after it start past the last ')'. starttime is
// field 22, the 20th after comm.
func parseStat(stat string) (comm string, startTicks uint64) {
	open, end := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if open < 0 || end <= open {
		return "", 0
	}
	comm = stat[open+1 : end]
	if f := strings.Fields(stat[end+1:]); len(f) >= 20 {
		startTicks, _ = strconv.ParseUint(f[19], 10, 64)
	}
	return comm, startTicks
}

// Kind is the process's proxy kind (one of ProxyKinds), from its
// executable's name, else its comm; "" when it is no known proxy.
func (p ContainerProcess) Kind() string {
	for _, name := range []string{filepath.Base(p.Exe), p.Comm} {
		for _, k := range ProxyKinds {
			if name == k || len(name) == 15 && strings.HasPrefix(k, name) {
				return k
			}
		}
	}
	return ""
}

// PickProxy returns the proxy among a sidecar container's processes: a
// known proxy executable running as uid (any uid when uid < 0). Of several,
// the youngest wins: a proxy that hands over to a new process on a
// configuration change (Envoy's hot restart, haproxy -sf) keeps the old one
// alive until its connections drain, and nginx's master forks its worker.
func PickProxy(procs []ContainerProcess, uid int) (ContainerProcess, error) {
	var best *ContainerProcess
	for i := range procs {
		p := &procs[i]
		if p.Kind() == "" || (uid >= 0 && p.UID != uid) {
			continue
		}
		if best == nil || p.StartTicks > best.StartTicks || p.StartTicks == best.StartTicks && p.PID > best.PID {
			best = p
		}
	}
	if best != nil {
		return *best, nil
	}
	seen := make([]string, len(procs))
	for i, p := range procs {
		seen[i] = fmt.Sprintf("%s (pid %d, uid %d)", p.describe(), p.PID, p.UID)
	}
	return ContainerProcess{}, fmt.Errorf("%w running as uid %d among %v (known proxies: %s)", ErrNoProxy, uid, seen, strings.Join(ProxyKinds, ", "))
}

func (p ContainerProcess) describe() string {
	if p.Exe != "" {
		return p.Exe
	}
	return p.Comm
}

// capabilityNames are the Linux capabilities by bit number (capability.h).
var capabilityNames = []string{"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
	"SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK",
	"IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT",
	"SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
	"SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
	"CHECKPOINT_RESTORE"}

// EffectiveCapabilities names the capabilities in a /proc/PID/status
// file's CapEff line, as Kubernetes spells them (without CAP_).
func EffectiveCapabilities(status string) ([]string, error) {
	for _, line := range strings.Split(status, "\n") {
		hex, ok := strings.CutPrefix(line, "CapEff:")
		if !ok {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("parsing CapEff %q: %w", strings.TrimSpace(hex), err)
		}
		var out []string
		for bit := 0; bit < 64; bit++ {
			if mask&(1<<bit) == 0 {
				continue
			}
			if bit < len(capabilityNames) {
				out = append(out, capabilityNames[bit])
			} else {
				out = append(out, fmt.Sprintf("CAP_%d", bit))
			}
		}
		return out, nil
	}
	return nil, errors.New("no CapEff line")
}
