//go:build linux

package probe

import (
	"errors"
	"fmt"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// Feature is whether one kernel tracing facility can be used, found by
// loading and attaching a trivial program.
type Feature struct {
	Name   string
	Usable bool
	// Err says why the facility is not usable.
	Err error
}

// FeatureSet reports the tracing facilities of the running kernel. The
// meshinsight programs need TPBTF and PerfSampling only; Kprobe and Fentry
// are reported because many kernels (and unprivileged containers) lack
// them, so they must stay optional extras.
type FeatureSet struct {
	Kprobe        Feature
	Fentry        Feature
	TPBTF         Feature
	RawTracepoint Feature
	PerfSampling  Feature
}

// All lists the features in a fixed order.
func (f FeatureSet) All() []Feature {
	return []Feature{f.TPBTF, f.PerfSampling, f.RawTracepoint, f.Kprobe, f.Fentry}
}

// Required returns an error naming the missing facilities that the
// meshinsight programs depend on, or nil.
func (f FeatureSet) Required() error {
	var errs []error
	for _, ft := range []Feature{f.TPBTF, f.PerfSampling} {
		if !ft.Usable {
			errs = append(errs, fmt.Errorf("%s: %w", ft.Name, ft.Err))
		}
	}
	return errors.Join(errs...)
}

// Features probes the kernel. It needs the privileges of the agent
// (CAP_BPF, CAP_PERFMON or root) and attaches each trivial program for an
// instant.
func Features() FeatureSet {
	return FeatureSet{
		Kprobe:        check("kprobe", probeKprobe),
		Fentry:        check("fentry", probeFentry),
		TPBTF:         check("tp_btf", probeTPBTF),
		RawTracepoint: check("raw_tracepoint", probeRawTracepoint),
		PerfSampling:  check("perf_event cpu-clock sampling", probePerfSampling),
	}
}

func check(name string, probe func() error) Feature {
	err := probe()
	return Feature{Name: name, Usable: err == nil, Err: err}
}

// returnZero is the smallest valid program.
var returnZero = asm.Instructions{
	asm.Mov.Imm(asm.R0, 0),
	asm.Return(),
}

func newProgram(spec *ebpf.ProgramSpec) (*ebpf.Program, error) {
	spec.Instructions = returnZero
	spec.License = "GPL"
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		return nil, fmt.Errorf("loading program: %w", err)
	}
	return prog, nil
}

// probeSymbol exists in every kernel and is not inlined.
const probeSymbol = "vfs_read"

func probeKprobe() error {
	prog, err := newProgram(&ebpf.ProgramSpec{Type: ebpf.Kprobe})
	if err != nil {
		return err
	}
	defer prog.Close()
	l, err := link.Kprobe(probeSymbol, prog, nil)
	if err != nil {
		return fmt.Errorf("attaching kprobe: %w", err)
	}
	return l.Close()
}

func probeFentry() error {
	prog, err := newProgram(&ebpf.ProgramSpec{
		Type:       ebpf.Tracing,
		AttachType: ebpf.AttachTraceFEntry,
		AttachTo:   probeSymbol,
	})
	if err != nil {
		return err
	}
	defer prog.Close()
	l, err := link.AttachTracing(link.TracingOptions{Program: prog})
	if err != nil {
		return fmt.Errorf("attaching fentry: %w", err)
	}
	return l.Close()
}

func probeTPBTF() error {
	prog, err := newProgram(&ebpf.ProgramSpec{
		Type:       ebpf.Tracing,
		AttachType: ebpf.AttachTraceRawTp,
		AttachTo:   "sched_switch",
	})
	if err != nil {
		return err
	}
	defer prog.Close()
	l, err := link.AttachTracing(link.TracingOptions{Program: prog})
	if err != nil {
		return fmt.Errorf("attaching tp_btf: %w", err)
	}
	return l.Close()
}

func probeRawTracepoint() error {
	prog, err := newProgram(&ebpf.ProgramSpec{Type: ebpf.RawTracepoint})
	if err != nil {
		return err
	}
	defer prog.Close()
	l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sched_switch", Program: prog})
	if err != nil {
		return fmt.Errorf("attaching raw_tracepoint: %w", err)
	}
	return l.Close()
}

func probePerfSampling() error {
	prog, err := newProgram(&ebpf.ProgramSpec{Type: ebpf.PerfEvent})
	if err != nil {
		return err
	}
	defer prog.Close()
	cpus, err := onlineCPUs()
	if err != nil {
		return err
	}
	fd, err := openCPUClock(cpus[0], time.Second)
	if err != nil {
		return err
	}
	ev, err := attachCPUClock(fd, prog)
	if err != nil {
		return err
	}
	return ev.close()
}
