package agent

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzInContainer: any /proc/PID/cgroup text is read without panicking,
// and a kubelet's line for the container (cgroupfs or systemd driver)
// added to it is always found.
func FuzzInContainer(f *testing.F) {
	f.Add("0::/kubepods/burstable/pod1234/3f2a9c\n", "3f2a9c")
	f.Add("12:memory:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podab.slice/cri-containerd-3f2a.scope\n", "3f2a")
	f.Add("1:name=systemd:/\n0::/\n", "")
	f.Fuzz(func(t *testing.T, cgroup, id string) {
		InContainer(cgroup, id)
		if id == "" || strings.ContainsAny(id, "/\n") {
			return
		}
		for _, line := range []string{"0::/kubepods/besteffort/pod1/" + id, "3:cpu:/kubepods.slice/x.slice/crio-" + id + ".scope"} {
			if !InContainer(cgroup+"\n"+line+"\n", id) {
				t.Errorf("container %q not found in\n%q", id, cgroup+"\n"+line)
			}
		}
	})
}

// FuzzProcStat: any /proc/PID/stat and status text is read without
// panicking; comm is what lies between the first '(' and the last ')',
// and a UID is -1 or a real one.
func FuzzProcStat(f *testing.F) {
	f.Add("4242 (envoy) S 1 4242 4242 0 -1 4194560 1 0 0 0 5 3 0 0 20 0 12 0 987654 0 0\n", "Uid:\t1337\t1337\t1337\t1337\n")
	f.Add("1 (a (b) c) R 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 7 ", "Uid: x\n")
	f.Fuzz(func(t *testing.T, stat, status string) {
		comm, _ := parseStat(stat)
		if comm != "" && !strings.Contains(stat, "("+comm+")") {
			t.Errorf("comm %q is not in %q", comm, stat)
		}
		if uid := statusUID(status); uid < -1 {
			t.Errorf("uid %d from %q", uid, status)
		}
		if _, ticks := parseStat(fmt.Sprintf("1 (x) S%s 77", strings.Repeat(" 0", 18))); ticks != 77 {
			t.Errorf("starttime %d, want 77", ticks)
		}
	})
}

// FuzzEffectiveCapabilities: any /proc/PID/status text is read without
// panicking, and a CapEff mask names one capability per bit.
func FuzzEffectiveCapabilities(f *testing.F) {
	f.Add("Name:\tagent\nCapEff:\t000000c000000000\n")
	f.Add("CapEff:\tffffffffffffffff\n")
	f.Add("CapEff: zz\n")
	f.Fuzz(func(t *testing.T, status string) {
		caps, err := EffectiveCapabilities(status)
		if err != nil {
			return
		}
		if len(caps) > 64 {
			t.Errorf("%d capabilities from one 64-bit mask", len(caps))
		}
	})
}
