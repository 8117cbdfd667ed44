//go:build linux && privileged

package probe

import (
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// BenchmarkObserverEffect measures what the probes cost the process they
// observe: loopback TCP echo round-trips (64 bytes, one connection, client
// and server in this process, so every round-trip is two sends, two
// receives and several wakeups and context switches, all in a target) with
// and without the probes attached, for each probe alone and all together.
//
// Windows alternate off/on in ABBA order to cancel drift. Metrics: on/off is
// the ratio of median throughputs and cpu-on/off the ratio of median CPU
// time per round-trip (1 = no cost; CPU per round-trip is far less sensitive
// to other load than throughput); bpf-ns/rt and bpf-runs/rt come from one
// extra window with kernel BPF run-time statistics on (they include the
// statistics' own clock reads, and exclude the hook dispatch around the
// programs). "sockets-empty" attaches trivial programs to the socket hooks:
// the part of the cost no program can avoid.
//
// Each benchmark iteration is one off/on pair of windows; run it alone, on
// an otherwise idle machine, with a fixed number of pairs:
//
//	go test -tags privileged ./pkg/probe/ -run '^$' -bench ObserverEffect -benchtime 10x
func BenchmarkObserverEffect(b *testing.B) {
	loaders := map[string]func(b *testing.B) []probeUnderTest{
		"sched": func(b *testing.B) []probeUnderTest {
			s, err := NewSched()
			if err != nil {
				b.Fatal(err)
			}
			return []probeUnderTest{{s.Start, s.Close,
				[]*ebpf.Program{s.objs.SchedSwitch, s.objs.SchedWakeup, s.objs.SchedWakeupNew}}}
		},
		"stacks": func(b *testing.B) []probeUnderTest {
			st, err := NewStacks(StacksOptions{})
			if err != nil {
				b.Fatal(err)
			}
			return []probeUnderTest{{st.Start, st.Close, []*ebpf.Program{st.objs.Sample}}}
		},
		"sockets": func(b *testing.B) []probeUnderTest {
			so, err := NewSockets()
			if err != nil {
				b.Fatal(err)
			}
			return []probeUnderTest{{so.Start, so.Close,
				[]*ebpf.Program{so.objs.SockSendLength, so.objs.SockRecvLength}}}
		},
		"sockets-empty": func(b *testing.B) []probeUnderTest {
			var out []probeUnderTest
			for _, tp := range []string{"sock_send_length", "sock_recv_length"} {
				prog, err := newProgram(&ebpf.ProgramSpec{
					Type:       ebpf.Tracing,
					AttachType: ebpf.AttachTraceRawTp,
					AttachTo:   tp,
				})
				if err != nil {
					b.Fatal(err)
				}
				var l link.Link
				out = append(out, probeUnderTest{
					start: func([]int) error {
						var err error
						l, err = link.AttachTracing(link.TracingOptions{Program: prog})
						return err
					},
					close: func() error { return errors.Join(l.Close(), prog.Close()) },
					progs: []*ebpf.Program{prog},
				})
			}
			return out
		},
	}
	loaders["all"] = func(b *testing.B) []probeUnderTest {
		var all []probeUnderTest
		for _, name := range []string{"sched", "stacks", "sockets"} {
			all = append(all, loaders[name](b)...)
		}
		return all
	}
	for _, name := range []string{"sched", "stacks", "sockets", "sockets-empty", "all"} {
		b.Run(name, func(b *testing.B) { observerEffect(b, loaders[name]) })
	}
}

// probeUnderTest is a loaded probe: start attaches it to targets, close
// detaches and frees it.
type probeUnderTest struct {
	start func([]int) error
	close func() error
	progs []*ebpf.Program
}

// echoClient drives round-trips against an echo server in this process.
type echoClient struct {
	c   net.Conn
	msg []byte
	buf []byte
}

func newEchoClient(b *testing.B) *echoClient {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return &echoClient{c: c, msg: make([]byte, 64), buf: make([]byte, 64)}
}

// window runs round-trips for d and returns how many, their rate, and this
// process's CPU time per round-trip in µs (from schedstat, all threads).
func (e *echoClient) window(b *testing.B, d time.Duration) (n int, rate, cpuMicros float64) {
	cpu0, err := ReadSchedstat(os.Getpid())
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	end := start.Add(d)
	for {
		for range 32 {
			if _, err := e.c.Write(e.msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(e.c, e.buf); err != nil {
				b.Fatal(err)
			}
		}
		n += 32
		if now := time.Now(); now.After(end) {
			cpu1, err := ReadSchedstat(os.Getpid())
			if err != nil {
				b.Fatal(err)
			}
			return n, float64(n) / now.Sub(start).Seconds(),
				float64(cpu1.OnCPUNanos-cpu0.OnCPUNanos) / 1e3 / float64(n)
		}
	}
}

func observerEffect(b *testing.B, load func(*testing.B) []probeUnderTest) {
	// Each iteration is one off/on pair; fewer than 6 pairs give no useful
	// median, so -benchtime 1x still runs 6.
	const window = 250 * time.Millisecond
	pairs := max(b.N, 6)
	e := newEchoClient(b)

	// Loading (verifier, map allocation) stays outside the windows; attach
	// and detach bracket each "on" window.
	attach := func() ([]*ebpf.Program, func()) {
		probes := load(b)
		var progs []*ebpf.Program
		for _, p := range probes {
			if err := p.start([]int{os.Getpid()}); err != nil {
				b.Fatal(err)
			}
			progs = append(progs, p.progs...)
		}
		return progs, func() {
			var errs []error
			for _, p := range probes {
				errs = append(errs, p.close())
			}
			if err := errors.Join(errs...); err != nil {
				b.Fatal(err)
			}
		}
	}

	b.ResetTimer()
	e.window(b, window) // warm up
	var off, on, cpuOff, cpuOn, ratios []float64
	for r := range pairs {
		order := []bool{false, true}
		if r%2 == 1 {
			order = []bool{true, false}
		}
		var pair [2]float64
		for _, attached := range order {
			if attached {
				_, detach := attach()
				_, rate, cpu := e.window(b, window)
				detach()
				on, cpuOn = append(on, rate), append(cpuOn, cpu)
				pair[1] = rate
			} else {
				_, rate, cpu := e.window(b, window)
				off, cpuOff = append(off, rate), append(cpuOff, cpu)
				pair[0] = rate
			}
		}
		ratios = append(ratios, pair[1]/pair[0])
	}
	b.StopTimer()

	// In-program cost, measured apart: statistics slow every program down.
	progs, detach := attach()
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Fatal(err)
	}
	before := progStats(b, progs)
	n, _, _ := e.window(b, window)
	after := progStats(b, progs)
	_ = stats.Close()
	detach()
	runs := float64(after.RunCount-before.RunCount) / float64(n)
	bpfNanos := float64(after.Runtime-before.Runtime) / float64(n)

	rateRatio := median(on) / median(off)
	cpuRatio := median(cpuOn) / median(cpuOff)
	slices.Sort(ratios)
	b.Logf("%d pairs; round-trips/s: median off %.0f, on %.0f, ratio %.3f (per pair %.3f..%.3f); CPU µs per round-trip: off %.2f, on %.2f, ratio %.3f; BPF: %.2f runs, %.0f ns per round-trip",
		pairs, median(off), median(on), rateRatio, ratios[0], ratios[len(ratios)-1],
		median(cpuOff), median(cpuOn), cpuRatio, runs, bpfNanos)
	b.ReportMetric(rateRatio, "on/off")
	b.ReportMetric(cpuRatio, "cpu-on/off")
	b.ReportMetric(median(off), "rt/s-off")
	b.ReportMetric(median(on), "rt/s-on")
	b.ReportMetric(bpfNanos, "bpf-ns/rt")
	b.ReportMetric(runs, "bpf-runs/rt")
}

// progStats sums the run-time statistics of programs.
func progStats(b *testing.B, progs []*ebpf.Program) ebpf.ProgramStats {
	var sum ebpf.ProgramStats
	for _, p := range progs {
		st, err := p.Stats()
		if err != nil {
			b.Fatal(err)
		}
		sum.RunCount += st.RunCount
		sum.Runtime += st.Runtime
	}
	return sum
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
