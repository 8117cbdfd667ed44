//go:build linux

package probe

import (
	"fmt"
	"os"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// cpuClockEvent is one per-CPU software CPU_CLOCK perf event with a BPF
// program attached.
type cpuClockEvent struct {
	fd   int
	link link.Link // nil when attached with the legacy ioctl
}

// openCPUClock opens a disabled software CPU_CLOCK event on one CPU for all
// processes, sampling every period. Software rather than hardware cycles:
// VMs often have no PMU. A fixed sample_period rather than a frequency:
// frequency mode re-computes the period on every sample, which measured much
// costlier.
func openCPUClock(cpu int, period time.Duration) (int, error) {
	attr := unix.PerfEventAttr{
		Type:   unix.PERF_TYPE_SOFTWARE,
		Config: unix.PERF_COUNT_SW_CPU_CLOCK,
		Sample: uint64(period.Nanoseconds()),
		Bits:   unix.PerfBitDisabled,
	}
	attr.Size = uint32(unsafe.Sizeof(attr))
	fd, err := unix.PerfEventOpen(&attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("opening cpu-clock perf event on cpu %d: %w", cpu, err)
	}
	return fd, nil
}

// attachCPUClock attaches prog to a perf event fd and enables it. It prefers
// a BPF link (Linux 5.15+), which is released with the link, and falls back
// to PERF_EVENT_IOC_SET_BPF, released when the fd is closed. It owns fd:
// on error, fd is closed.
func attachCPUClock(fd int, prog *ebpf.Program) (*cpuClockEvent, error) {
	ev := &cpuClockEvent{fd: fd}
	l, err := link.AttachRawLink(link.RawLinkOptions{
		Target:  fd,
		Program: prog,
		Attach:  ebpf.AttachPerfEvent,
	})
	if err == nil {
		ev.link = l
	} else if ierr := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_BPF, prog.FD()); ierr != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("attaching perf event program: %w (ioctl: %v)", err, ierr)
	}
	if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_ENABLE, 0); err != nil {
		_ = ev.close()
		return nil, fmt.Errorf("enabling perf event: %w", err)
	}
	return ev, nil
}

func (ev *cpuClockEvent) close() error {
	_ = unix.IoctlSetInt(ev.fd, unix.PERF_EVENT_IOC_DISABLE, 0)
	var err error
	if ev.link != nil {
		err = ev.link.Close()
	}
	if cerr := unix.Close(ev.fd); cerr != nil && err == nil {
		err = os.NewSyscallError("close", cerr)
	}
	return err
}
