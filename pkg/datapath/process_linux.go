//go:build linux

package datapath

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Process is a program running inside a pod of a datapath.
type Process struct {
	name string
	cmd  *exec.Cmd
	out  *tail
	done chan struct{}
	err  error // set before done is closed

	stopOnce sync.Once
	stopErr  error
}

// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
const stopGrace = 2 * time.Second

// startIn starts argv inside the network namespace at nsPath as uid:gid, in
// its own process group, with SIGKILL as its parent-death signal so that a
// killed agent does not leave it running. (Linux sends that signal when the
// forking *thread* exits; inNetns returns its thread to the runtime, which
// keeps it, so only a failure to leave the namespace, which retires the
// thread, would kill the child early, and that start is reported as failed.)
func startIn(nsPath, name string, argv []string, uid, gid int) (*Process, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("starting %s: empty command", name)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	out := &tail{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = "/"
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Changing identity needs CAP_SETUID and CAP_SETGID, which the agent's
	// pod does not hold: a child that keeps the caller's uid and gid keeps
	// its credentials as they are.
	if uid != os.Getuid() || gid != os.Getgid() {
		// Groups is empty rather than nil: the child drops root's
		// supplementary groups too.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	if err := inNetns(nsPath, cmd.Start); err != nil {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
		}
		return nil, fmt.Errorf("starting %s (%s): %w", name, argv[0], err)
	}
	p := &Process{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// PID is the process ID, for eBPF targeting and /proc.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited and been waited for.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the exit status once Done is closed (nil for a clean exit).
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Output is the last few KiB the process wrote to stdout and stderr.
func (p *Process) Output() string { return p.out.String() }

// Stop sends SIGTERM to the process group, SIGKILL after two seconds, and
// waits for the process to exit. It is idempotent; an exit caused by the
// signals is not an error.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() {
		pid := p.PID()
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-pid, syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(stopGrace):
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				select {
				case <-p.done:
				case <-time.After(5 * time.Second):
					p.stopErr = fmt.Errorf("stopping %s (pid %d): still running after SIGKILL", p.name, pid)
					return
				}
			}
		}
		// Anything the process left in its group goes too.
		if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			p.stopErr = fmt.Errorf("killing the process group of %s (pid %d): %w", p.name, pid, err)
		}
	})
	return p.stopErr
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// StartInNetns starts argv inside the network namespace at nsPath (for
// example another pod's /proc/PID/ns/net) as uid/gid, with the same
// guarantees as the datapath's own processes: its own process group,
// killed if the caller dies, output kept for errors.
func StartInNetns(nsPath, name string, argv []string, uid, gid int) (*Process, error) {
	return startIn(nsPath, name, argv, uid, gid)
}
