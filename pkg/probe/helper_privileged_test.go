//go:build linux && privileged

package probe

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The privileged suite re-executes the test binary as its workload, so that
// every child is a known Go program with frame pointers and no surprises.
// Protocol: the child prints "ready" and blocks until it reads a line on
// stdin (so that probes are attached while none of its threads runs: Sched
// cannot account a slice that began before it was attached), does its work,
// prints "done ...", then blocks until stdin is closed (so that /proc stays
// readable).
const (
	helperEnv     = "MESHINSIGHT_PROBE_HELPER"
	durationEnv   = "MESHINSIGHT_PROBE_DURATION"
	addrEnv       = "MESHINSIGHT_PROBE_ADDR"
	sendBytesEnv  = "MESHINSIGHT_PROBE_SEND_BYTES"
	recvBytesEnv  = "MESHINSIGHT_PROBE_RECV_BYTES"
	helperTimeout = 20 * time.Second
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := runHelper(mode); err != nil {
			fmt.Fprintf(os.Stderr, "helper %s: %v\n", mode, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "the privileged suite loads eBPF programs: run it as root")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func runHelper(mode string) error {
	in := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	if _, err := in.ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for start: %w", err)
	}
	d := time.Second
	if s := os.Getenv(durationEnv); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return err
		}
	}
	var result string
	switch mode {
	case "cpu":
		result = fmt.Sprint(burnCPU(d))
	case "zero":
		n, err := readZero(d)
		if err != nil {
			return err
		}
		result = fmt.Sprint(n)
	case "send":
		sent, recvd, err := sendRecv(os.Getenv(addrEnv), envInt(sendBytesEnv), envInt(recvBytesEnv))
		if err != nil {
			return err
		}
		result = fmt.Sprintf("%d %d", sent, recvd)
	default:
		return fmt.Errorf("unknown helper mode %q", mode)
	}
	fmt.Printf("done %s\n", result)
	_, _ = io.Copy(io.Discard, in) // until the test closes stdin
	return nil
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}

// burnCPU spins in user space only (time.Now is a vDSO call).
func burnCPU(d time.Duration) uint64 {
	var x uint64
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := 0; i < 10000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}

// readZero spends its time in the kernel's read path.
func readZero(d time.Duration) (int64, error) {
	f, err := os.Open("/dev/zero")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var total int64
	for end := time.Now().Add(d); time.Now().Before(end); {
		n, err := f.Read(buf)
		if err != nil {
			return total, err
		}
		total += int64(n)
	}
	return total, nil
}

// sendRecv writes send bytes to addr, then reads until EOF.
func sendRecv(addr string, send, recv int) (int, int64, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(helperTimeout))
	chunk := make([]byte, 32<<10)
	sent := 0
	for sent < send {
		n := min(len(chunk), send-sent)
		w, err := c.Write(chunk[:n])
		sent += w
		if err != nil {
			return sent, 0, err
		}
	}
	got, err := io.Copy(io.Discard, c)
	if err != nil {
		return sent, got, err
	}
	if got != int64(recv) {
		return sent, got, fmt.Errorf("received %d bytes, want %d", got, recv)
	}
	return sent, got, nil
}

// helper is a running child in helper mode.
type helper struct {
	stopped  sync.Once
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	lines    chan string
	deadline time.Time
}

// startHelper starts a child that waits for helper.start. It is killed and
// reaped when the test ends.
func startHelper(t *testing.T, mode string, env ...string) *helper {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode}, env...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting helper: %v", err)
	}
	h := &helper{cmd: cmd, stdin: stdin, lines: make(chan string, 4), deadline: time.Now().Add(helperTimeout)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		close(h.lines)
	}()
	t.Cleanup(func() { h.stop(t) })
	if _, err := h.next(t, "ready"); err != nil {
		t.Fatal(err)
	}
	return h
}

// next waits for the next output line, which must start with word, and
// returns the fields after it. Waits end helperTimeout after the child
// started (children started together share one bound).
func (h *helper) next(t *testing.T, word string) ([]string, error) {
	t.Helper()
	select {
	case line, ok := <-h.lines:
		f := strings.Fields(line)
		if !ok || len(f) == 0 || f[0] != word {
			return nil, fmt.Errorf("helper %d: got %q (open %v), want %q", h.pid(), line, ok, word)
		}
		return f[1:], nil
	case <-time.After(time.Until(h.deadline)):
		return nil, fmt.Errorf("helper %d: no %q within %s", h.pid(), word, helperTimeout)
	}
}

func (h *helper) pid() int { return h.cmd.Process.Pid }

func (h *helper) start(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(h.stdin, "go\n"); err != nil {
		t.Fatalf("starting helper %d: %v", h.pid(), err)
	}
}

// waitDone returns the fields after "done" once the child finished its work.
func (h *helper) waitDone(t *testing.T) []string {
	t.Helper()
	res, err := h.next(t, "done")
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// stop closes stdin so the child exits, kills it if it does not, and reaps
// it.
func (h *helper) stop(t *testing.T) {
	h.stopped.Do(func() { h.stopOnce(t) })
}

func (h *helper) stopOnce(t *testing.T) {
	_ = h.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- h.cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Errorf("waiting for helper: %v", err)
		}
	case <-time.After(5 * time.Second):
		_ = h.cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
}
