package agent

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// cpuTimes are the node's CPU times summed over its CPUs, in clock ticks,
// from the first line of /proc/stat.
type cpuTimes struct {
	busy, total uint64
}

// parseProcStat reads the aggregate "cpu" line of /proc/stat: busy is
// user, nice, system, irq and softirq; total adds idle, iowait and steal
// (guest time is already inside user and nice).
func parseProcStat(data []byte) (cpuTimes, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "cpu" {
			continue
		}
		if len(f) < 9 {
			return cpuTimes{}, fmt.Errorf("/proc/stat: cpu line has %d fields, want at least 8 times", len(f)-1)
		}
		var v [8]uint64
		for i := range v {
			n, err := strconv.ParseUint(f[i+1], 10, 64)
			if err != nil {
				return cpuTimes{}, fmt.Errorf("/proc/stat: cpu field %d: %w", i+1, err)
			}
			v[i] = n
		}
		user, nice, system, idle, iowait, irq, softirq, steal := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
		busy := user + nice + system + irq + softirq
		return cpuTimes{busy: busy, total: busy + idle + iowait + steal}, nil
	}
	return cpuTimes{}, fmt.Errorf("/proc/stat: no aggregate cpu line")
}

// busyShare is the share of CPU time busy between two readings, or false
// when no time passed or the counters went back.
func busyShare(before, after cpuTimes) (float64, bool) {
	if after.total <= before.total || after.busy < before.busy {
		return 0, false
	}
	share := float64(after.busy-before.busy) / float64(after.total-before.total)
	return min(share, 1), true
}

// readProcStat reads the node's CPU times (the agent sees the host's
// /proc/stat: hostPID, and containers share the kernel's counters).
func readProcStat() (cpuTimes, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, fmt.Errorf("reading the node's CPU times: %w", err)
	}
	return parseProcStat(data)
}
