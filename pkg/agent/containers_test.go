package agent

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// containerIDs reads a tree's recorded container statuses.
func containerIDs(t *testing.T, tree string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(tree, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		name, status, _ := strings.Cut(s.Text(), " ")
		id, err := ContainerID(status)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = id
	}
	return out
}

func TestFindContainerProxy(t *testing.T) {
	for _, tc := range []struct {
		tree, container string
		uid             int
		wantPIDs        []int // the container's processes, oldest first
		wantProxy       int
		wantKind        string
	}{
		// Recorded on the real node: pilot-agent and the haproxy that
		// took over after a configuration change.
		{"proc-cgroupfs-v1", "istio-proxy", 1337, []int{988, 1066}, 1066, "haproxy"},
		// systemd driver: Envoy's hot restart keeps the draining epoch.
		{"proc-systemd-v2", "istio-proxy", 1337, []int{4100, 4130, 4990}, 4990, "envoy"},
		// cgroupfs on v2, CRI-O IDs; exe unreadable: the kind from comm.
		{"proc-cgroupfs-v2", "linkerd-proxy", 2102, []int{210}, 210, "linkerd2-proxy"},
	} {
		t.Run(tc.tree, func(t *testing.T) {
			root := filepath.Join("testdata", tc.tree)
			ids := containerIDs(t, root)
			procs, err := FindContainerProcesses(root, ids[tc.container])
			if err != nil {
				t.Fatal(err)
			}
			var pids []int
			for _, p := range procs {
				pids = append(pids, p.PID)
			}
			if !slices.Equal(pids, tc.wantPIDs) {
				t.Fatalf("processes of %s = %v, want %v", tc.container, pids, tc.wantPIDs)
			}
			p, err := PickProxy(procs, tc.uid)
			if err != nil {
				t.Fatal(err)
			}
			if p.PID != tc.wantProxy || p.Kind() != tc.wantKind {
				t.Errorf("proxy = pid %d kind %q, want %d %q", p.PID, p.Kind(), tc.wantProxy, tc.wantKind)
			}
		})
	}
}

func TestPickProxyRefuses(t *testing.T) {
	root := filepath.Join("testdata", "proc-cgroupfs-v1")
	ids := containerIDs(t, root)
	// The app container runs no proxy.
	procs, err := FindContainerProcesses(root, ids["http"])
	if err != nil || len(procs) != 1 {
		t.Fatalf("http container: %v, %v", procs, err)
	}
	if _, err := PickProxy(procs, -1); !errors.Is(err, ErrNoProxy) {
		t.Errorf("app container: err = %v, want ErrNoProxy", err)
	}
	// A proxy of another uid is not the sidecar's.
	procs, _ = FindContainerProcesses(root, ids["istio-proxy"])
	_, err = PickProxy(procs, 1000)
	if !errors.Is(err, ErrNoProxy) || !strings.Contains(err.Error(), "/usr/sbin/haproxy (pid 1066, uid 1337)") {
		t.Errorf("uid 1000: err = %v, want ErrNoProxy listing what runs", err)
	}
	// No such container.
	if procs, err := FindContainerProcesses(root, "0000"); err != nil || len(procs) != 0 {
		t.Errorf("unknown container: %v, %v", procs, err)
	}
}

func TestInContainer(t *testing.T) {
	id := "d3df829c47684ac05bfee70d2a6c344ebb1f0a7e1acda3bb2243490255b980e7"
	for cg, want := range map[string]bool{
		"4:memory:/kubepods/pod1/" + id + "\n":                         true,
		"0::/kubepods.slice/x.slice/cri-containerd-" + id + ".scope\n": true,
		"0::/kubepods.slice/x.slice/crio-" + id + ".scope\n":           true,
		"0::/kubepods.slice/x.slice/docker-" + id + ".scope\n":         true,
		"0::/kubepods/pod1/" + id + "0\n":                              false,
		"0::/kubepods/pod1/" + id[:12] + "\n":                          false,
		"0::/init.scope\n":                                             false,
		"garbage":                                                      false,
	} {
		if got := InContainer(cg, id); got != want {
			t.Errorf("InContainer(%q) = %v, want %v", cg, got, want)
		}
	}
	if InContainer("0::/\n", "") {
		t.Error("an empty ID matched")
	}
}

func TestContainerID(t *testing.T) {
	if id, err := ContainerID("containerd://abc123"); err != nil || id != "abc123" {
		t.Errorf("containerd: %q, %v", id, err)
	}
	for _, bad := range []string{"", "abc123", "containerd://", "docker://a/b"} {
		if _, err := ContainerID(bad); err == nil {
			t.Errorf("ContainerID(%q) accepted", bad)
		}
	}
}

func TestEffectiveCapabilities(t *testing.T) {
	// BPF, PERFMON, SYS_ADMIN and SYS_PTRACE (a set of an earlier agent manifest).
	got, err := EffectiveCapabilities("Name:\tmeshinsight-age\nCapEff:\t000000c000280000\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"SYS_PTRACE", "SYS_ADMIN", "PERFMON", "BPF"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := EffectiveCapabilities("Name:\tx\n"); err == nil {
		t.Error("a status without CapEff parsed")
	}
	if _, err := EffectiveCapabilities("CapEff:\tzz\n"); err == nil {
		t.Error("a bad mask parsed")
	}
}

// A garbled Uid line leaves the UID unknown; it used to read as 0, root.
func TestStatusUID(t *testing.T) {
	for status, want := range map[string]int{"Uid:\t1337\t1337\t1337\t1337\n": 1337, "Uid:\tx\n": -1, "Uid:\n": -1, "Name: a\n": -1, "Uid:\t-5\n": -1} {
		if got := statusUID(status); got != want {
			t.Errorf("statusUID(%q) = %d, want %d", status, got, want)
		}
	}
}
