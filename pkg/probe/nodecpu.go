package probe

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// NodeCPU is the node's CPU time summed over its CPUs, in clock ticks,
// from the aggregate line of /proc/stat.
type NodeCPU struct {
	// Busy is user, nice, system, irq and softirq time; Total adds idle,
	// iowait and steal.
	Busy, Total uint64
}

// parseProcStat reads the aggregate "cpu" line of /proc/stat: busy is
// user, nice, system, irq and softirq; total adds idle, iowait and steal
// (guest time is already inside user and nice).
func parseProcStat(data []byte) (NodeCPU, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "cpu" {
			continue
		}
		if len(f) < 9 {
			return NodeCPU{}, fmt.Errorf("/proc/stat: cpu line has %d fields, want at least 8 times", len(f)-1)
		}
		var v [8]uint64
		for i := range v {
			n, err := strconv.ParseUint(f[i+1], 10, 64)
			if err != nil {
				return NodeCPU{}, fmt.Errorf("/proc/stat: cpu field %d: %w", i+1, err)
			}
			v[i] = n
		}
		user, nice, system, idle, iowait, irq, softirq, steal := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
		busy := user + nice + system + irq + softirq
		return NodeCPU{Busy: busy, Total: busy + idle + iowait + steal}, nil
	}
	return NodeCPU{}, fmt.Errorf("/proc/stat: no aggregate cpu line")
}

// BusyShare is the share (0..1) of the node's CPU time that was busy
// between two readings, or false when no time passed or the counters went
// back.
func BusyShare(before, after NodeCPU) (float64, bool) {
	if after.Total <= before.Total || after.Busy < before.Busy {
		return 0, false
	}
	share := float64(after.Busy-before.Busy) / float64(after.Total-before.Total)
	return min(share, 1), true
}

// ReadNodeCPU reads the node's CPU times from /proc/stat (a container sees
// the host's: the kernel's counters are not namespaced).
func ReadNodeCPU() (NodeCPU, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return NodeCPU{}, fmt.Errorf("reading the node's CPU times: %w", err)
	}
	return parseProcStat(data)
}
