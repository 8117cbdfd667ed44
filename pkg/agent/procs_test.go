package agent

import (
	"os"
	"path/filepath"
	"testing"
)

func fakeProc(t *testing.T, root string, pid, comm, cgroup string) {
	t.Helper()
	dir := filepath.Join(root, pid)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "comm"), []byte(comm+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "cgroup"), []byte(cgroup), 0o644)
}

func TestFindPodProcesses(t *testing.T) {
	root := t.TempDir()
	uid := "1f2e3d4c-aaaa-bbbb-cccc-0123456789ab"
	// systemd driver (cgroup v2), cgroupfs driver (v1), another pod, the host.
	fakeProc(t, root, "101", "pilot-agent", "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1f2e3d4c_aaaa_bbbb_cccc_0123456789ab.slice/cri-containerd-abc.scope\n")
	fakeProc(t, root, "102", "envoy", "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1f2e3d4c_aaaa_bbbb_cccc_0123456789ab.slice/cri-containerd-abc.scope\n")
	fakeProc(t, root, "230", "meshinsight-age", "12:memory:/kubepods/besteffort/pod1f2e3d4c-aaaa-bbbb-cccc-0123456789ab/def\n")
	fakeProc(t, root, "300", "envoy", "0::/kubepods.slice/kubepods-besteffort-pod99999999_aaaa_bbbb_cccc_0123456789ab.slice/x.scope\n")
	fakeProc(t, root, "1", "systemd", "0::/init.scope\n")
	os.MkdirAll(filepath.Join(root, "self"), 0o755)
	got, err := FindPodProcesses(root, uid)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].PID != 101 || got[1].PID != 102 || got[2].PID != 230 {
		t.Fatalf("found %+v, want 101, 102, 230", got)
	}
	if pid, err := PickProcess(got, "envoy"); err != nil || pid != 102 {
		t.Errorf("envoy = %d, %v", pid, err)
	}
	if pid, err := PickProcess(got, "meshinsight-agent"); err != nil || pid != 230 {
		t.Errorf("meshinsight-agent = %d, %v (comm is cut at 15 bytes)", pid, err)
	}
	if _, err := PickProcess(got, "haproxy"); err == nil {
		t.Error("found a process that is not there")
	}
	if _, err := FindPodProcesses(root, ""); err == nil {
		t.Error("empty uid accepted")
	}
}
