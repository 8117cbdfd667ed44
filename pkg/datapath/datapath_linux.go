//go:build linux

package datapath

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrClosed is returned by methods of a Datapath that has been closed.
var ErrClosed = errors.New("datapath closed")

// tempPrefix starts the name of every datapath's temporary directory.
const tempPrefix = "meshinsight-datapath-"

// Timeouts that bound Build's and Close's waiting.
const (
	readyTimeout    = 10 * time.Second
	teardownTimeout = 30 * time.Second
)

// Datapath is a built two-pod datapath: a Chain of a client and a server
// pod joined by one veth pair, each sidecar configured by the Spec's Proxy
// (HAProxy or NGINX). Its methods are safe for concurrent use. Close it,
// also when the caller is interrupted: it owns network namespaces, a veth
// pair, processes and files.
type Datapath struct {
	chain *Chain
	spec  Spec

	mu      sync.Mutex
	configs map[Pod]ProxyConfig
}

// Build creates the pods, the veth pair, the nat rules and the proxies that
// spec describes, and returns once every proxy accepts connections. ctx bounds
// the building only. On error everything already created is torn down.
// It needs root (CAP_SYS_ADMIN for namespaces, CAP_NET_ADMIN for links and
// iptables, CAP_SETUID to drop to the proxy uid) and the `ip` and
// `iptables-restore` tools, plus the proxy's binary when sidecars are wanted.
func Build(ctx context.Context, spec Spec) (*Datapath, error) {
	spec, err := prepare(spec, Spec.withDefaults, "datapath", "veths and iptables rules")
	if err != nil {
		return nil, err
	}
	d := &Datapath{spec: spec, configs: map[Pod]ProxyConfig{}}
	cs := ChainSpec{Prefix: spec.Prefix, Subnet: spec.Subnet, MaxConn: spec.MaxConn, ProxyThreads: spec.ProxyThreads,
		Edges: []ChainEdge{{From: string(Client), To: string(Server), Mode: spec.Mode, MTLS: spec.MTLS}}}
	for _, p := range Pods {
		cs.Pods = append(cs.Pods, ChainPod{Name: string(p), Sidecar: spec.Sidecars.Has(p)})
	}
	if d.chain, err = buildChain(ctx, cs, true, d.sidecar); err != nil {
		return nil, err
	}
	return d, nil
}

// sidecar configures pod's proxy from the Spec (sidecarFunc).
func (d *Datapath) sidecar(pod, dir string, certs map[Pod]*TLSFiles) (Proxy, []byte, Rules, error) {
	s, p := d.spec, Pod(pod)
	cfg := ProxyConfig{
		Pod:          p,
		Mode:         s.Mode,
		InboundPort:  InboundPort,
		OutboundPort: OutboundPort,
		AppPort:      s.AppPort,
		MaxConn:      s.MaxConn,
		Threads:      s.ProxyThreads,
		Dir:          dir,
		AdminSocket:  filepath.Join(dir, "admin.sock"),
		TLS:          certs[p],
	}
	if s.AppPort != 0 {
		cfg.Upstream = netip.AddrPortFrom(s.addr(Server), uint16(s.AppPort))
	}
	conf, err := s.Proxy.Config(cfg)
	if err != nil {
		return nil, nil, Rules{}, fmt.Errorf("configuring the %s %s sidecar: %w", p, s.Proxy.Name(), err)
	}
	d.mu.Lock()
	d.configs[p] = cfg
	d.mu.Unlock()
	return s.Proxy, conf, s.rules(), nil
}

// Start runs argv inside pod p as uid (and the gid of the same number, e.g.
// 65534 for nobody), without supplementary groups. Its stdout and stderr are
// kept in a small buffer (Process.Output). The process is stopped when ctx
// is done and, at the latest, by Close.
func (d *Datapath) Start(ctx context.Context, p Pod, argv []string, uid int) (*Process, error) {
	if err := d.chain.checkPod(string(p)); err != nil {
		return nil, err
	}
	return d.chain.startUntil(ctx, string(p), strings.Join(argv, " "), argv, uid)
}

// WaitListening waits until a TCP socket listens on port (any address) in
// pod p, for at most ten seconds, without connecting to it.
func (d *Datapath) WaitListening(ctx context.Context, p Pod, port int) error {
	return d.chain.WaitListening(ctx, string(p), port)
}

// waitListeningIn polls the listening sockets of the network namespace at
// nsPath (pod pod, for messages) until one is on port, for at most
// readyTimeout; it gives up early, with the process's output, if proc exits.
func waitListeningIn(ctx context.Context, nsPath, pod string, port int, proc *Process) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		ok, err := listening(nsPath, port)
		if err != nil {
			return fmt.Errorf("waiting for port %d in the %s pod: %w", port, pod, err)
		}
		if ok {
			return nil
		}
		var done <-chan struct{}
		if proc != nil {
			done = proc.Done()
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited before listening on port %d: %v: %s", proc.name, port, proc.Err(), strings.TrimSpace(proc.Output()))
		case <-ctx.Done():
			return fmt.Errorf("waiting for port %d in the %s pod: %w", port, pod, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// listening reports whether an IPv4 or IPv6 TCP socket listens on port in
// the network namespace at nsPath. /proc/thread-self/net shows the calling
// thread's namespace.
func listening(nsPath string, port int) (bool, error) {
	var found bool
	err := inNetns(nsPath, func() error {
		for _, f := range []string{"/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"} {
			data, err := os.ReadFile(f)
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				return fmt.Errorf("reading %s: %w", f, err)
			}
			if listensOn(data, port) {
				found = true
				return nil
			}
		}
		return nil
	})
	return found, err
}

// Dial connects from inside pod p, as the calling process (root, so the
// connection is intercepted like any application's).
func (d *Datapath) Dial(ctx context.Context, p Pod, network, address string) (net.Conn, error) {
	return d.chain.Dial(ctx, string(p), network, address)
}

// Listen listens inside pod p, for an in-process server.
func (d *Datapath) Listen(ctx context.Context, p Pod, network, address string) (net.Listener, error) {
	return d.chain.Listen(ctx, string(p), network, address)
}

// Prefix is the name prefix of everything the datapath created.
func (d *Datapath) Prefix() string { return d.spec.Prefix }

// Spec is the spec the datapath was built from, defaults filled in.
func (d *Datapath) Spec() Spec { return d.spec }

// NetnsPath is the bind-mounted network namespace of pod p.
func (d *Datapath) NetnsPath(p Pod) string { return d.chain.NetnsPath(string(p)) }

// Addr is pod p's address on the veth.
func (d *Datapath) Addr(p Pod) netip.Addr { return d.spec.addr(p) }

// ServerAddr is the address the client dials to reach the server app on
// port: meshed unless port is excluded from interception.
func (d *Datapath) ServerAddr(port int) netip.AddrPort {
	return netip.AddrPortFrom(d.spec.addr(Server), uint16(port))
}

// ProxyDir creates a directory named name for a proxy's files
// (configuration, sockets, pid file) inside the datapath's temporary
// directory, owned by the proxy uid; Close removes it with the rest.
func (d *Datapath) ProxyDir(name string) (string, error) {
	dir := filepath.Join(d.chain.Dir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating proxy directory %s: %w", dir, err)
	}
	if err := os.Chown(dir, ProxyUID, ProxyUID); err != nil {
		return "", fmt.Errorf("handing %s to uid %d: %w", dir, ProxyUID, err)
	}
	return dir, nil
}

// ProxyPIDs maps each pod with a sidecar to its proxy's PID.
func (d *Datapath) ProxyPIDs() map[Pod]int {
	m := map[Pod]int{}
	for p, pid := range d.chain.ProxyPIDs() {
		m[Pod(p)] = pid
	}
	return m
}

// ProxyConfig is the configuration pod p's proxy was given (its admin socket,
// certificates, ports); ok is false if p has no sidecar.
func (d *Datapath) ProxyConfig(p Pod) (cfg ProxyConfig, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cfg, ok = d.configs[p]
	return cfg, ok
}

// Close stops every process (SIGTERM, then SIGKILL, and waits for each),
// kills whatever else still runs in the pods, deletes the network namespaces
// (which takes the veth pair and the nat rules with them) and removes the
// temporary directory. It is idempotent and returns the same error each time.
func (d *Datapath) Close() error { return d.chain.Close() }

// teardown stops procs in parallel, deletes the network namespaces in
// reverse order of creation and removes dir, gathering every error. Datapaths
// and chains close through it.
func teardown(procs []*Process, netns []string, dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), teardownTimeout)
	defer cancel()
	var errs []error
	var wg sync.WaitGroup
	stopErrs := make([]error, len(procs))
	for i, proc := range procs {
		wg.Go(func() { stopErrs[i] = proc.Stop() })
	}
	wg.Wait()
	errs = append(errs, stopErrs...)
	for _, name := range slices.Backward(netns) {
		errs = append(errs, removeNetns(ctx, name))
	}
	if dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

// Cleanup removes what killed runs left behind: every network namespace
// whose name starts with prefix (after killing the processes in it) and the
// temporary directories of datapaths with that prefix. A datapath's own
// prefix cleans up that datapath; "mi-" cleans up every default-named one.
func Cleanup(ctx context.Context, prefix string) error {
	if prefix == "" {
		return errors.New("cleanup needs a non-empty prefix")
	}
	out, err := output(ctx, "ip", "netns", "list")
	if err != nil {
		return err
	}
	var errs []error
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if name != "" && strings.HasPrefix(name, prefix) {
			errs = append(errs, removeNetns(ctx, name))
		}
	}
	dirs, err := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+prefix+"*"))
	if err != nil {
		errs = append(errs, fmt.Errorf("listing leftover directories: %w", err))
	}
	for _, dir := range dirs {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

// removeNetns kills every process in network namespace name, waits until
// none is left, and deletes the namespace.
func removeNetns(ctx context.Context, name string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := output(ctx, "ip", "netns", "pids", name)
		if err != nil {
			if _, statErr := os.Stat(filepath.Join("/run/netns", name)); errors.Is(statErr, os.ErrNotExist) {
				return nil
			}
			return err
		}
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v in network namespace %s survived SIGKILL", pids, name)
		}
		for _, s := range pids {
			if pid, err := strconv.Atoi(s); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return run(ctx, nil, "ip", "netns", "delete", name)
}

// run runs a command with stdin, wrapping its output into the error.
func run(ctx context.Context, stdin []byte, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("running %s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// output runs a command and returns its stdout.
func output(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("running %s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}
