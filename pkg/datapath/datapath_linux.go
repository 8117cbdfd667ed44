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

// Datapath is a built two-pod datapath. Its methods are safe for concurrent
// use. Close it, also when the caller is interrupted: it owns network
// namespaces, a veth pair, processes and files.
type Datapath struct {
	spec    Spec
	dir     string
	configs map[Pod]ProxyConfig

	mu      sync.Mutex
	closed  bool
	netns   []string // created namespaces, in creation order
	procs   []*Process
	proxies map[Pod]*Process

	closeOnce sync.Once
	closeErr  error
}

// Build creates the pods, the veth pair, the nat rules and the proxies that
// spec describes, and returns once every proxy accepts connections. ctx bounds
// the building only. On error everything already created is torn down.
// It needs root (CAP_SYS_ADMIN for namespaces, CAP_NET_ADMIN for links and
// iptables, CAP_SETUID to drop to the proxy uid) and the `ip` and
// `iptables-restore` tools, plus the proxy's binary when sidecars are wanted.
func Build(ctx context.Context, spec Spec) (_ *Datapath, err error) {
	spec, err = spec.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("invalid datapath spec: %w", err)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("building a datapath needs root: network namespaces, veths and iptables rules are created")
	}
	d := &Datapath{spec: spec, configs: map[Pod]ProxyConfig{}, proxies: map[Pod]*Process{}}
	defer func() {
		if err != nil {
			if cerr := d.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("cleaning up after the failed build: %w", cerr))
			}
		}
	}()

	if d.dir, err = os.MkdirTemp("", tempPrefix+spec.Prefix+"-"); err != nil {
		return nil, fmt.Errorf("creating the datapath directory: %w", err)
	}
	// Traversable, not listable, by the proxy uid, which owns its own
	// subdirectory and files.
	if err := os.Chmod(d.dir, 0o711); err != nil {
		return nil, fmt.Errorf("opening %s to the proxy uid: %w", d.dir, err)
	}
	for _, p := range Pods {
		name := spec.netnsName(p)
		if err := run(ctx, nil, "ip", "netns", "add", name); err != nil {
			return nil, err
		}
		d.mu.Lock()
		d.netns = append(d.netns, name)
		d.mu.Unlock()
		if err := run(ctx, nil, "ip", "-n", name, "link", "set", "lo", "up"); err != nil {
			return nil, err
		}
	}
	// Both ends are created inside the pods, so the host never sees them.
	if err := run(ctx, nil, "ip", "link", "add", "eth0", "netns", spec.netnsName(Client),
		"type", "veth", "peer", "name", "eth0", "netns", spec.netnsName(Server)); err != nil {
		return nil, err
	}
	for _, p := range Pods {
		name := spec.netnsName(p)
		cidr := netip.PrefixFrom(spec.addr(p), spec.Subnet.Bits()).String()
		if err := run(ctx, nil, "ip", "-n", name, "addr", "add", cidr, "dev", "eth0"); err != nil {
			return nil, err
		}
		if err := run(ctx, nil, "ip", "-n", name, "link", "set", "eth0", "up"); err != nil {
			return nil, err
		}
	}
	if spec.Sidecars == SidecarNone {
		return d, nil
	}

	var certs map[Pod]*TLSFiles
	if spec.MTLS {
		if certs, err = writeMeshCerts(d.dir, Pods, ProxyUID); err != nil {
			return nil, err
		}
	}
	for _, p := range Pods {
		if !spec.Sidecars.Has(p) {
			continue
		}
		if err := d.startSidecar(ctx, p, certs[p]); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// startSidecar installs pod p's nat rules and starts its proxy.
func (d *Datapath) startSidecar(ctx context.Context, p Pod, tls *TLSFiles) error {
	s := d.spec
	podDir := filepath.Join(d.dir, string(p))
	if err := os.Mkdir(podDir, 0o700); err != nil {
		return fmt.Errorf("creating the %s proxy directory: %w", p, err)
	}
	if err := os.Chown(podDir, ProxyUID, ProxyUID); err != nil {
		return fmt.Errorf("handing the %s proxy directory to uid %d: %w", p, ProxyUID, err)
	}
	cfg := ProxyConfig{
		Pod:          p,
		Mode:         s.Mode,
		InboundPort:  InboundPort,
		OutboundPort: OutboundPort,
		AppPort:      s.AppPort,
		MaxConn:      s.MaxConn,
		Threads:      s.ProxyThreads,
		Dir:          podDir,
		AdminSocket:  filepath.Join(podDir, "admin.sock"),
		TLS:          tls,
	}
	if s.AppPort != 0 {
		cfg.Upstream = netip.AddrPortFrom(s.addr(Server), uint16(s.AppPort))
	}
	conf, err := s.Proxy.Config(cfg)
	if err != nil {
		return fmt.Errorf("configuring the %s %s sidecar: %w", p, s.Proxy.Name(), err)
	}
	confPath := filepath.Join(podDir, s.Proxy.Name()+".conf")
	if err := writeOwned(confPath, conf, ProxyUID); err != nil {
		return err
	}
	d.mu.Lock()
	d.configs[p] = cfg
	d.mu.Unlock()

	ns := s.netnsName(p)
	if err := run(ctx, s.rules().RestoreInput(), "ip", "netns", "exec", ns, "iptables-restore"); err != nil {
		return fmt.Errorf("installing the %s pod's nat rules: %w", p, err)
	}
	proc, err := d.start(p, s.Proxy.Name()+" "+string(p)+" sidecar", s.Proxy.Command(confPath), ProxyUID)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.proxies[p] = proc
	d.mu.Unlock()
	for _, port := range []int{InboundPort, OutboundPort} {
		if err := d.waitListening(ctx, p, port, proc); err != nil {
			return err
		}
	}
	return nil
}

// Start runs argv inside pod p as uid (and the gid of the same number, e.g.
// 65534 for nobody), without supplementary groups. Its stdout and stderr are
// kept in a small buffer (Process.Output). The process is stopped when ctx
// is done and, at the latest, by Close.
func (d *Datapath) Start(ctx context.Context, p Pod, argv []string, uid int) (*Process, error) {
	if err := d.checkPod(p); err != nil {
		return nil, err
	}
	if uid < 0 {
		return nil, fmt.Errorf("starting %v: uid %d is negative", argv, uid)
	}
	proc, err := d.start(p, strings.Join(argv, " "), argv, uid)
	if err != nil {
		return nil, err
	}
	go func() {
		select {
		case <-ctx.Done():
			_ = proc.Stop()
		case <-proc.Done():
		}
	}()
	return proc, nil
}

// start starts a tracked process in pod p.
func (d *Datapath) start(p Pod, name string, argv []string, uid int) (*Process, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	proc, err := startIn(d.NetnsPath(p), name, argv, uid, uid)
	if err != nil {
		return nil, err
	}
	d.procs = append(d.procs, proc)
	return proc, nil
}

// WaitListening waits until a TCP socket listens on port (any address) in
// pod p, for at most ten seconds. It reads the pod's /proc/net/tcp rather
// than connecting, so probing a proxy cannot create a connection.
func (d *Datapath) WaitListening(ctx context.Context, p Pod, port int) error {
	if err := d.checkPod(p); err != nil {
		return err
	}
	return d.waitListening(ctx, p, port, nil)
}

// waitListening polls pod p's listening sockets; it gives up early, with the
// process's output, if proc exits.
func (d *Datapath) waitListening(ctx context.Context, p Pod, port int, proc *Process) error {
	return waitListeningIn(ctx, d.NetnsPath(p), string(p), port, proc)
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
	if err := d.checkPod(p); err != nil {
		return nil, err
	}
	c, err := dialIn(ctx, d.NetnsPath(p), network, address)
	if err != nil {
		return nil, fmt.Errorf("dialling %s from the %s pod: %w", address, p, err)
	}
	return c, nil
}

// Listen listens inside pod p, for an in-process server.
func (d *Datapath) Listen(ctx context.Context, p Pod, network, address string) (net.Listener, error) {
	if err := d.checkPod(p); err != nil {
		return nil, err
	}
	l, err := listenIn(ctx, d.NetnsPath(p), network, address)
	if err != nil {
		return nil, fmt.Errorf("listening on %s in the %s pod: %w", address, p, err)
	}
	return l, nil
}

// Prefix is the name prefix of everything the datapath created.
func (d *Datapath) Prefix() string { return d.spec.Prefix }

// Spec is the spec the datapath was built from, defaults filled in.
func (d *Datapath) Spec() Spec { return d.spec }

// NetnsPath is the bind-mounted network namespace of pod p.
func (d *Datapath) NetnsPath(p Pod) string {
	return filepath.Join("/run/netns", d.spec.netnsName(p))
}

// Addr is pod p's address on the veth.
func (d *Datapath) Addr(p Pod) netip.Addr { return d.spec.addr(p) }

// ServerAddr is the address the client dials to reach the server app on
// port: meshed unless port is excluded from interception.
func (d *Datapath) ServerAddr(port int) netip.AddrPort {
	return netip.AddrPortFrom(d.spec.addr(Server), uint16(port))
}

// ProxyPIDs maps each pod with a sidecar to its proxy's PID.
func (d *Datapath) ProxyPIDs() map[Pod]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := make(map[Pod]int, len(d.proxies))
	for p, proc := range d.proxies {
		m[p] = proc.PID()
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

func (d *Datapath) checkPod(p Pod) error {
	if p != Client && p != Server {
		return fmt.Errorf("unknown pod %q: want %q or %q", p, Client, Server)
	}
	return nil
}

// Close stops every process (SIGTERM, then SIGKILL, and waits for each),
// kills whatever else still runs in the pods, deletes the network namespaces
// (which takes the veth pair and the nat rules with them) and removes the
// temporary directory. It is idempotent and returns the same error each time.
func (d *Datapath) Close() error {
	d.closeOnce.Do(func() { d.closeErr = d.teardown() })
	return d.closeErr
}

func (d *Datapath) teardown() error {
	d.mu.Lock()
	d.closed = true
	procs, netns := d.procs, d.netns
	d.mu.Unlock()
	return teardown(procs, netns, d.dir)
}

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
