//go:build linux && privileged

package probe

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFeatures(t *testing.T) {
	f := Features()
	for _, ft := range f.All() {
		t.Logf("%-30s usable=%v err=%v", ft.Name, ft.Usable, ft.Err)
	}
	if err := f.Required(); err != nil {
		t.Fatalf("required features missing: %v", err)
	}
}

func newSched(t *testing.T) *Sched {
	t.Helper()
	s, err := NewSched()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing sched: %v", err)
		}
	})
	return s
}

func readSchedstatT(t *testing.T, pid int) Schedstat {
	t.Helper()
	st, err := ReadSchedstat(pid)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// threadTotals sums Sched threads per process.
func threadTotals(threads []Thread) map[int]Thread {
	m := map[int]Thread{}
	for _, th := range threads {
		s := m[th.TGID]
		s.TGID = th.TGID
		s.OnCPUNanos += th.OnCPUNanos
		s.RunqWaitNanos += th.RunqWaitNanos
		s.Switches += th.Switches
		s.Preemptions += th.Preemptions
		m[th.TGID] = s
	}
	return m
}

func relDiff(got, want uint64) float64 {
	return math.Abs(float64(got)-float64(want)) / float64(want)
}

// TestSchedOnCPUAgreesWithSchedstat burns ~1 s of CPU in a child and
// compares the eBPF on-CPU total with the kernel's own per-thread
// accounting, both taken as deltas over the same window.
func TestSchedOnCPUAgreesWithSchedstat(t *testing.T) {
	s := newSched(t)
	h := startHelper(t, "cpu", durationEnv+"=1s")
	if err := s.Start([]int{h.pid()}); err != nil {
		t.Fatal(err)
	}
	before := readSchedstatT(t, h.pid())
	beforeThreads, err := readThreadSchedstats("/proc", h.pid())
	if err != nil {
		t.Fatal(err)
	}
	h.start(t)
	h.waitDone(t)
	after := readSchedstatT(t, h.pid())
	afterThreads, err := readThreadSchedstats("/proc", h.pid())
	if err != nil {
		t.Fatal(err)
	}
	threads, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if !t.Failed() && !testing.Verbose() {
			return
		}
		for _, th := range threads {
			want := afterThreads[th.TID].OnCPUNanos - beforeThreads[th.TID].OnCPUNanos
			t.Logf("thread %d: eBPF %d ns on CPU, %d switches; schedstat %d ns, %d timeslices",
				th.TID, th.OnCPUNanos, th.Switches, want, afterThreads[th.TID].Timeslices-beforeThreads[th.TID].Timeslices)
		}
	}()

	got := threadTotals(threads)[h.pid()]
	want := after.OnCPUNanos - before.OnCPUNanos
	// Not 1 s: on a shared 2-core VM the child may get far less CPU.
	if want < uint64(100*time.Millisecond) {
		t.Fatalf("schedstat saw only %s on CPU for a 1 s burn", time.Duration(want))
	}
	d := relDiff(got.OnCPUNanos, want)
	t.Logf("on-CPU: eBPF %s, schedstat %s, difference %.3f%% (%d threads, %d switches)",
		time.Duration(got.OnCPUNanos), time.Duration(want), d*100, after.Threads, got.Switches)
	if d > 0.05 {
		t.Errorf("eBPF on-CPU %d ns differs from schedstat %d ns by %.2f%%, want <= 5%%", got.OnCPUNanos, want, d*100)
	}
	dropped, err := s.Dropped()
	if err != nil || dropped != 0 {
		t.Errorf("Dropped() = %d, %v; want 0", dropped, err)
	}

	if err := s.RemoveTargets([]int{h.pid()}); err != nil {
		t.Fatal(err)
	}
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	if threads, err := s.Snapshot(); err != nil || len(threads) != 0 {
		t.Errorf("after RemoveTargets and Reset: %d threads, %v; want none", len(threads), err)
	}
}

// TestSchedRunqWait runs three CPU-bound children on fewer CPUs, so that
// each waits on a run queue.
func TestSchedRunqWait(t *testing.T) {
	s := newSched(t)
	const children = 3
	var hs []*helper
	var pids []int
	for range children {
		h := startHelper(t, "cpu", durationEnv+"=1s")
		hs = append(hs, h)
		pids = append(pids, h.pid())
	}
	if err := s.Start(pids); err != nil {
		t.Fatal(err)
	}
	var before []Schedstat
	for _, p := range pids {
		before = append(before, readSchedstatT(t, p))
	}
	began := time.Now()
	for _, h := range hs {
		h.start(t)
	}
	for _, h := range hs {
		h.waitDone(t)
	}
	elapsed := time.Since(began)
	var wantRunq, wantOn uint64
	for i, p := range pids {
		after := readSchedstatT(t, p)
		wantRunq += after.RunqWaitNanos - before[i].RunqWaitNanos
		wantOn += after.OnCPUNanos - before[i].OnCPUNanos
	}
	threads, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	totals := threadTotals(threads)

	var gotRunq, gotOn uint64
	for _, p := range pids {
		tot := totals[p]
		gotRunq += tot.RunqWaitNanos
		gotOn += tot.OnCPUNanos
		t.Logf("pid %d: on-CPU %s, run-queue wait %s, %d switches, %d preemptions",
			p, time.Duration(tot.OnCPUNanos), time.Duration(tot.RunqWaitNanos), tot.Switches, tot.Preemptions)
	}
	for _, th := range threads {
		// A wrapped (negative) interval would show up as an absurd value.
		if time.Duration(th.RunqWaitNanos) > elapsed+time.Second {
			t.Errorf("thread %d: run-queue wait %s exceeds the %s run", th.TID, time.Duration(th.RunqWaitNanos), elapsed)
		}
	}
	t.Logf("run-queue wait: eBPF %s, schedstat %s (difference %.1f%%); on-CPU: eBPF %s, schedstat %s (difference %.2f%%); wall %s",
		time.Duration(gotRunq), time.Duration(wantRunq), relDiff(gotRunq, max(wantRunq, 1))*100,
		time.Duration(gotOn), time.Duration(wantOn), relDiff(gotOn, wantOn)*100, elapsed)
	if gotRunq == 0 {
		t.Fatalf("no run-queue wait with %d busy children", children)
	}
	if cpus, err := onlineCPUs(); err == nil && len(cpus) < children && gotRunq < uint64(50*time.Millisecond) {
		t.Errorf("run-queue wait %s with %d busy children on %d CPUs, want >= 50ms", time.Duration(gotRunq), children, len(cpus))
	}
	if d := relDiff(gotOn, wantOn); d > 0.05 {
		t.Errorf("on-CPU differs from schedstat by %.2f%%, want <= 5%%", d*100)
	}
}

// TestStacksSamples samples a child that spends its time reading /dev/zero,
// so that both kernel and user stacks are populated.
func TestStacksSamples(t *testing.T) {
	st, err := NewStacks(StacksOptions{Period: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("closing stacks: %v", err)
		}
	})
	syms, err := LoadKernelSymbols()
	if err != nil {
		t.Fatal(err)
	}
	h := startHelper(t, "zero", durationEnv+"=1s")
	if err := st.Start([]int{h.pid()}); err != nil {
		t.Fatal(err)
	}
	before := readSchedstatT(t, h.pid())
	h.start(t)
	h.waitDone(t)
	onCPU := time.Duration(readSchedstatT(t, h.pid()).OnCPUNanos - before.OnCPUNanos)
	samples, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}

	textLo, textHi := executableText(t, h.pid())
	var total, withKernel, withUser, userInExe, frames, resolved uint64
	names := map[string]uint64{}
	for _, s := range samples {
		if s.TGID != h.pid() {
			t.Errorf("sample of non-target process %d", s.TGID)
			continue
		}
		total += s.Count
		if len(s.KernelStack) > 0 {
			withKernel += s.Count
			for _, ip := range s.KernelStack {
				frames++
				if name, ok := syms.Resolve(ip); ok {
					resolved++
					names[name] += s.Count
				}
			}
		}
		if len(s.UserStack) > 0 {
			withUser += s.Count
			if ip := s.UserStack[0]; ip >= textLo && ip < textHi {
				userInExe += s.Count
			}
		}
	}
	expected := uint64(onCPU / time.Millisecond)
	t.Logf("%d samples for %s on CPU (%d expected at 1 kHz, %d distinct stacks): %d with kernel stacks, %d with user stacks (%d with the leaf in the binary's text); %d/%d kernel frames resolved",
		total, onCPU, expected, len(samples), withKernel, withUser, userInExe, resolved, frames)
	t.Logf("hottest kernel functions: %v", topNames(names, 6))

	// One sample per period of CPU time the child actually got (it may get
	// far less than 1 s on a shared VM). Allow 20% for the timer's jitter and
	// the slices during which a CPU's clock event was not armed.
	const minSamples = 100
	if total < minSamples || float64(total) < 0.8*float64(expected) || float64(total) > 1.2*float64(expected)+10 {
		t.Errorf("got %d samples, want >= %d and within 20%% of %d", total, minSamples, expected)
	}
	if withKernel == 0 || withUser == 0 {
		t.Errorf("kernel stacks in %d samples, user stacks in %d; want both > 0", withKernel, withUser)
	}
	if frames == 0 || resolved != frames {
		t.Errorf("resolved %d of %d kernel frames, want all", resolved, frames)
	}
	if names["vfs_read"] == 0 && names["ksys_read"] == 0 {
		t.Errorf("no kernel stack through vfs_read/ksys_read in a read loop")
	}
	if userInExe == 0 {
		t.Errorf("no user stack leaf inside the helper's text %#x-%#x", textLo, textHi)
	}
	dropped, err := st.Dropped()
	if err != nil || dropped != 0 {
		t.Errorf("Dropped() = %d, %v; want 0", dropped, err)
	}

	// The child still runs after "done" (it exits when stdin closes) and
	// may be sampled then: end it first, so that what Reset clears stays
	// cleared.
	h.stop(t)
	if err := st.Reset(); err != nil {
		t.Fatal(err)
	}
	if samples, err := st.Snapshot(); err != nil || len(samples) != 0 {
		t.Errorf("after Reset: %d samples, %v; want none", len(samples), err)
	}
}

// executableText returns the executable mapping of the process's binary.
func executableText(t *testing.T, pid int) (lo, hi uint64) {
	t.Helper()
	exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "maps"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || !strings.Contains(fields[1], "x") {
			continue
		}
		a, b, _ := strings.Cut(fields[0], "-")
		lo, _ = strconv.ParseUint(a, 16, 64)
		hi, _ = strconv.ParseUint(b, 16, 64)
		return lo, hi
	}
	t.Fatalf("no executable mapping of %s in pid %d", exe, pid)
	return 0, 0
}

func topNames(m map[string]uint64, n int) []string {
	type kv struct {
		k string
		v uint64
	}
	var all []kv
	for k, v := range m {
		all = append(all, kv{k, v})
	}
	for i := range all { // small n: selection sort is fine
		for j := i + 1; j < len(all); j++ {
			if all[j].v > all[i].v {
				all[i], all[j] = all[j], all[i]
			}
		}
	}
	var out []string
	for i := 0; i < len(all) && i < n; i++ {
		out = append(out, fmt.Sprintf("%s=%d", all[i].k, all[i].v))
	}
	return out
}

// TestSocketsCountLoopbackTCP has a child send and receive a known number
// of bytes over loopback TCP. sock_send_length/sock_recv_length report each
// sendmsg/recvmsg return value, and the child has no other socket, so the
// counted bytes must equal the bytes moved exactly: tolerance 0.
func TestSocketsCountLoopbackTCP(t *testing.T) {
	const (
		send = 3<<20 + 123 // not a multiple of the 32 KiB write size
		recv = 1<<20 + 7
	)
	so, err := NewSockets()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := so.Close(); err != nil {
			t.Errorf("closing sockets: %v", err)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	serverErr := make(chan error, 1)
	go func() {
		serverErr <- func() error {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(helperTimeout))
			if _, err := io.CopyN(io.Discard, c, send); err != nil {
				return fmt.Errorf("server reading: %w", err)
			}
			_, err = c.Write(make([]byte, recv))
			return err
		}()
	}()

	h := startHelper(t, "send",
		addrEnv+"="+ln.Addr().String(),
		sendBytesEnv+"="+strconv.Itoa(send),
		recvBytesEnv+"="+strconv.Itoa(recv))
	if err := so.Start([]int{h.pid()}); err != nil {
		t.Fatal(err)
	}
	h.start(t)
	res := h.waitDone(t)
	if err := <-serverErr; err != nil {
		t.Fatal(err)
	}
	stats, err := so.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var tcp *SocketStats
	for i, s := range stats {
		t.Logf("pid %d %s: send %d calls %d bytes %d errors, recv %d calls %d bytes %d errors",
			s.TGID, s.Transport, s.SendCalls, s.SendBytes, s.SendErrors, s.RecvCalls, s.RecvBytes, s.RecvErrors)
		if s.TGID != h.pid() {
			t.Errorf("stats for non-target process %d", s.TGID)
		}
		if s.Transport == "tcp" {
			tcp = &stats[i]
		}
	}
	t.Logf("helper reported sent/received %v", res)
	if tcp == nil {
		t.Fatal("no tcp stats for the helper")
	}
	if tcp.SendBytes != send || tcp.RecvBytes != recv {
		t.Errorf("counted %d bytes sent, %d received; want exactly %d, %d", tcp.SendBytes, tcp.RecvBytes, send, recv)
	}
	if minCalls := uint64(send / (32 << 10)); tcp.SendCalls < minCalls {
		t.Errorf("%d send calls, want >= %d", tcp.SendCalls, minCalls)
	}

	// Removing a target frees its slot but keeps its counts.
	if err := so.RemoveTargets([]int{h.pid()}); err != nil {
		t.Fatal(err)
	}
	after, err := so.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(stats) || after[0] != stats[0] {
		t.Errorf("after RemoveTargets: %+v, want %+v", after, stats)
	}
}
