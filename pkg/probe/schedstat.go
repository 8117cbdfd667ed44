package probe

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Schedstat is the scheduler's own accounting of a process, summed over its
// live threads from /proc/PID/task/*/schedstat: the independent cross-check
// of Sched. Threads that already exited are not included (their time is
// gone from /proc), and /proc/PID/schedstat alone would cover only the main
// thread.
type Schedstat struct {
	// OnCPUNanos is the time spent running (sum_exec_runtime).
	OnCPUNanos uint64
	// RunqWaitNanos is the time spent runnable, waiting on a run queue
	// (run_delay).
	RunqWaitNanos uint64
	// Timeslices is the number of times a thread was run (pcount).
	Timeslices uint64
	// Threads is the number of threads summed.
	Threads int
}

// ReadSchedstat sums the schedstat of every thread of a process.
func ReadSchedstat(pid int) (Schedstat, error) {
	return readSchedstat("/proc", pid)
}

func readSchedstat(procRoot string, pid int) (Schedstat, error) {
	threads, err := readThreadSchedstats(procRoot, pid)
	if err != nil {
		return Schedstat{}, err
	}
	var sum Schedstat
	for _, st := range threads {
		sum.OnCPUNanos += st.OnCPUNanos
		sum.RunqWaitNanos += st.RunqWaitNanos
		sum.Timeslices += st.Timeslices
		sum.Threads++
	}
	return sum, nil
}

// readThreadSchedstats reads the schedstat of each live thread, by TID.
func readThreadSchedstats(procRoot string, pid int) (map[int]Schedstat, error) {
	taskDir := filepath.Join(procRoot, strconv.Itoa(pid), "task")
	entries, err := os.ReadDir(taskDir)
	if err != nil {
		return nil, fmt.Errorf("listing threads of pid %d: %w", pid, err)
	}
	threads := map[int]Schedstat{}
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(taskDir, e.Name(), "schedstat"))
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNoProcess) {
			continue // the thread exited after the listing
		}
		if err != nil {
			return nil, fmt.Errorf("reading schedstat of thread %d: %w", tid, err)
		}
		st, err := parseSchedstat(string(b))
		if err != nil {
			return nil, fmt.Errorf("thread %d: %w", tid, err)
		}
		threads[tid] = st
	}
	if len(threads) == 0 {
		return nil, fmt.Errorf("pid %d has no threads left", pid)
	}
	return threads, nil
}

// parseSchedstat parses one thread's schedstat line:
// "<on-cpu ns> <run-queue wait ns> <timeslices>".
func parseSchedstat(s string) (Schedstat, error) {
	f := strings.Fields(s)
	if len(f) != 3 {
		return Schedstat{}, fmt.Errorf("parsing schedstat %q: want 3 fields, got %d", s, len(f))
	}
	var v [3]uint64
	for i := range v {
		n, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return Schedstat{}, fmt.Errorf("parsing schedstat %q: %w", s, err)
		}
		v[i] = n
	}
	return Schedstat{OnCPUNanos: v[0], RunqWaitNanos: v[1], Timeslices: v[2], Threads: 1}, nil
}
