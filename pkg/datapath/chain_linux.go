//go:build linux

package datapath

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Chain is a built N-pod datapath (see ChainSpec). Its methods are safe for
// concurrent use. Close it, also when the caller is interrupted: it owns
// network namespaces, veth pairs, a bridge, processes and files.
type Chain struct {
	spec ChainSpec
	dir  string

	mu      sync.Mutex
	closed  bool
	netns   []string // created namespaces, in creation order
	procs   []*Process
	proxies map[string]*Process

	closeOnce sync.Once
	closeErr  error
}

// sidecarFunc configures pod's sidecar, whose own directory (owned by the
// proxy uid) is dir: the proxy to run, the content of its configuration
// file, and the pod's nat rules. certs holds every sidecar's credentials
// when an edge has mTLS.
type sidecarFunc func(pod, dir string, certs map[Pod]*TLSFiles) (Proxy, []byte, Rules, error)

// BuildChain creates the hub with its bridge, the pods with their veths,
// and in every pod with a sidecar the nat rules and the proxy, and returns
// once every proxy accepts connections. ctx bounds the building only. On
// error everything already created is torn down. It needs root and the `ip`,
// `iptables-restore` and `haproxy` tools.
func BuildChain(ctx context.Context, spec ChainSpec) (*Chain, error) {
	spec, err := prepare(spec, ChainSpec.withDefaults, "chain", "veths, a bridge and iptables rules")
	if err != nil {
		return nil, err
	}
	return buildChain(ctx, spec, false, spec.haproxySidecar)
}

// buildChain builds a validated spec: the pods joined by a bridge in a hub
// namespace, or with direct by one veth pair (two pods), each sidecar
// configured by sidecar.
func buildChain(ctx context.Context, spec ChainSpec, direct bool, sidecar sidecarFunc) (_ *Chain, err error) {
	c := &Chain{spec: spec, proxies: map[string]*Process{}}
	defer func() {
		if err != nil {
			if cerr := c.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("cleaning up after the failed build: %w", cerr))
			}
		}
	}()
	// Cleanup(prefix) finds the directory by this name.
	if c.dir, err = os.MkdirTemp("", tempPrefix+spec.Prefix+"-"); err != nil {
		return nil, fmt.Errorf("creating the datapath directory: %w", err)
	}
	// Traversable, not listable, by the proxy uid, which owns its own
	// subdirectory and files.
	if err := os.Chmod(c.dir, 0o711); err != nil {
		return nil, fmt.Errorf("opening %s to the proxy uid: %w", c.dir, err)
	}
	wire := c.wireBridge
	if direct {
		wire = c.wirePair
	}
	if err := wire(ctx); err != nil {
		return nil, err
	}
	for i, p := range spec.Pods {
		cidr := netip.PrefixFrom(spec.addr(i), spec.Subnet.Bits()).String()
		if err := run(ctx, nil, "ip", "-n", spec.netnsName(p.Name), "addr", "add", cidr, "dev", "eth0"); err != nil {
			return nil, err
		}
		if err := run(ctx, nil, "ip", "-n", spec.netnsName(p.Name), "link", "set", "eth0", "up"); err != nil {
			return nil, err
		}
	}
	var certs map[Pod]*TLSFiles
	if slices.ContainsFunc(spec.Edges, func(e ChainEdge) bool { return e.MTLS }) {
		var pods []Pod
		for _, p := range spec.Pods {
			if p.Sidecar {
				pods = append(pods, Pod(p.Name))
			}
		}
		if certs, err = writeMeshCerts(c.dir, pods, ProxyUID); err != nil {
			return nil, err
		}
	}
	for _, p := range spec.Pods {
		if p.Sidecar {
			if err := c.startSidecar(ctx, p.Name, certs, sidecar); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// wireBridge creates the hub with its bridge and every pod with a veth into
// it. The bridge lives in the hub, so the host's network namespace never
// sees a link of the chain and deleting the namespaces deletes it all.
func (c *Chain) wireBridge(ctx context.Context) error {
	hub := c.spec.netnsName(hubName)
	if err := c.addNetns(ctx, hub); err != nil {
		return err
	}
	if err := run(ctx, nil, "ip", "-n", hub, "link", "add", bridgeName, "type", "bridge"); err != nil {
		return err
	}
	if err := run(ctx, nil, "ip", "-n", hub, "link", "set", bridgeName, "up"); err != nil {
		return err
	}
	for i, p := range c.spec.Pods {
		ns := c.spec.netnsName(p.Name)
		if err := c.addNetns(ctx, ns); err != nil {
			return err
		}
		peer := fmt.Sprintf("v%d", i)
		if err := run(ctx, nil, "ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", peer, "netns", hub); err != nil {
			return err
		}
		if err := run(ctx, nil, "ip", "-n", hub, "link", "set", peer, "master", bridgeName, "up"); err != nil {
			return err
		}
	}
	return nil
}

// wirePair creates two pods joined by one veth pair. Both ends are created
// inside the pods (each named eth0), so the host never sees them.
func (c *Chain) wirePair(ctx context.Context) error {
	for _, p := range c.spec.Pods {
		if err := c.addNetns(ctx, c.spec.netnsName(p.Name)); err != nil {
			return err
		}
	}
	a, b := c.spec.netnsName(c.spec.Pods[0].Name), c.spec.netnsName(c.spec.Pods[1].Name)
	return run(ctx, nil, "ip", "link", "add", "eth0", "netns", a, "type", "veth", "peer", "name", "eth0", "netns", b)
}

// addNetns creates a network namespace with its loopback up, and records it
// for Close.
func (c *Chain) addNetns(ctx context.Context, name string) error {
	if err := run(ctx, nil, "ip", "netns", "add", name); err != nil {
		return err
	}
	c.mu.Lock()
	c.netns = append(c.netns, name)
	c.mu.Unlock()
	return run(ctx, nil, "ip", "-n", name, "link", "set", "lo", "up")
}

// haproxySidecar is a chain sidecar: HAProxy routing each edge by original
// destination, the bypass ports excluded from interception both ways.
func (s ChainSpec) haproxySidecar(pod, dir string, certs map[Pod]*TLSFiles) (Proxy, []byte, Rules, error) {
	return s.Proxy, chainHAProxyConfig(s.proxyConfig(pod, filepath.Join(dir, "admin.sock"), certs)), s.rules(), nil
}

// startSidecar installs pod's nat rules and starts its proxy as the proxy
// uid, configured by sidecar, and waits until it listens on both ports.
func (c *Chain) startSidecar(ctx context.Context, pod string, certs map[Pod]*TLSFiles, sidecar sidecarFunc) error {
	podDir := filepath.Join(c.dir, pod)
	if err := os.Mkdir(podDir, 0o700); err != nil {
		return fmt.Errorf("creating the %s proxy directory: %w", pod, err)
	}
	if err := os.Chown(podDir, ProxyUID, ProxyUID); err != nil {
		return fmt.Errorf("handing the %s proxy directory to uid %d: %w", pod, ProxyUID, err)
	}
	proxy, conf, rules, err := sidecar(pod, podDir, certs)
	if err != nil {
		return err
	}
	confPath := filepath.Join(podDir, proxy.Name()+".conf")
	if err := writeOwned(confPath, conf, ProxyUID); err != nil {
		return err
	}
	if err := run(ctx, rules.RestoreInput(), "ip", "netns", "exec", c.spec.netnsName(pod), "iptables-restore"); err != nil {
		return fmt.Errorf("installing the %s pod's nat rules: %w", pod, err)
	}
	proc, err := c.start(pod, proxy.Name()+" "+pod+" sidecar", proxy.Command(confPath), ProxyUID)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.proxies[pod] = proc
	c.mu.Unlock()
	for _, port := range []int{InboundPort, OutboundPort} {
		if err := waitListeningIn(ctx, c.NetnsPath(pod), pod, port, proc); err != nil {
			return err
		}
	}
	return nil
}

// Start runs argv inside pod as uid (and the gid of the same number, e.g.
// 65534 for nobody), without supplementary groups. Its stdout and stderr
// are kept in a small buffer (Process.Output). The process is stopped when
// ctx is done and, at the latest, by Close.
func (c *Chain) Start(ctx context.Context, pod string, argv []string, uid int) (*Process, error) {
	if err := c.checkPod(pod); err != nil {
		return nil, err
	}
	return c.startUntil(ctx, pod, pod+": "+strings.Join(argv, " "), argv, uid)
}

// startUntil starts a tracked process named name in pod and stops it when
// ctx is done.
func (c *Chain) startUntil(ctx context.Context, pod, name string, argv []string, uid int) (*Process, error) {
	if uid < 0 {
		return nil, fmt.Errorf("starting %v: uid %d is negative", argv, uid)
	}
	proc, err := c.start(pod, name, argv, uid)
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

// start starts a tracked process in pod.
func (c *Chain) start(pod, name string, argv []string, uid int) (*Process, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	proc, err := startIn(c.NetnsPath(pod), name, argv, uid, uid)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, proc)
	return proc, nil
}

// WaitListening waits until a TCP socket listens on port (any address) in
// pod, for at most ten seconds. It reads the pod's /proc/net/tcp rather
// than connecting, so probing a proxy cannot create a connection.
func (c *Chain) WaitListening(ctx context.Context, pod string, port int) error {
	if err := c.checkPod(pod); err != nil {
		return err
	}
	return waitListeningIn(ctx, c.NetnsPath(pod), pod, port, nil)
}

// Dial connects from inside pod, as the calling process (root, so the
// connection is intercepted like any application's).
func (c *Chain) Dial(ctx context.Context, pod, network, address string) (net.Conn, error) {
	return openInPod(c, pod, "dialling "+address+" from", func() (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, address)
	})
}

// Listen listens inside pod, for an in-process server.
func (c *Chain) Listen(ctx context.Context, pod, network, address string) (net.Listener, error) {
	return openInPod(c, pod, "listening on "+address+" in", func() (net.Listener, error) {
		return (&net.ListenConfig{}).Listen(ctx, network, address)
	})
}

// openInPod opens a socket in pod; what describes it in errors.
func openInPod[T io.Closer](c *Chain, pod, what string, open func() (T, error)) (T, error) {
	var zero T
	if err := c.checkPod(pod); err != nil {
		return zero, err
	}
	s, err := openIn(c.NetnsPath(pod), open)
	if err != nil {
		return zero, fmt.Errorf("%s the %s pod: %w", what, pod, err)
	}
	return s, nil
}

// Prefix is the name prefix of everything the chain created.
func (c *Chain) Prefix() string { return c.spec.Prefix }

// Spec is the spec the chain was built from, defaults filled in.
func (c *Chain) Spec() ChainSpec { return c.spec }

// Dir is the chain's temporary directory (removed by Close): a place for
// the apps' configuration files and sockets too.
func (c *Chain) Dir() string { return c.dir }

// NetnsPath is the bind-mounted network namespace of pod.
func (c *Chain) NetnsPath(pod string) string {
	return filepath.Join("/run/netns", c.spec.netnsName(pod))
}

// Addr is pod's address; the zero Addr for an unknown pod.
func (c *Chain) Addr(pod string) netip.Addr {
	i := c.spec.podIndex(pod)
	if i < 0 {
		return netip.Addr{}
	}
	return c.spec.addr(i)
}

// ProxyPIDs maps each pod with a sidecar to its proxy's PID.
func (c *Chain) ProxyPIDs() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int, len(c.proxies))
	for p, proc := range c.proxies {
		m[p] = proc.PID()
	}
	return m
}

// PIDs lists every process the chain started (proxies and apps), running
// or not, for checks that nothing survived Close.
func (c *Chain) PIDs() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]int, 0, len(c.procs))
	for _, p := range c.procs {
		out = append(out, p.PID())
	}
	return out
}

func (c *Chain) checkPod(pod string) error {
	if c.spec.podIndex(pod) < 0 {
		return fmt.Errorf("unknown pod %q in chain %s", pod, c.spec.Prefix)
	}
	return nil
}

// Close stops every process (SIGTERM, then SIGKILL, and waits for each),
// kills whatever else still runs in the namespaces, deletes the pods' (and
// the hub's) network namespaces, which takes the veths, the bridge and the
// nat rules with them, and removes the temporary directory. It is
// idempotent and returns the same error each time.
func (c *Chain) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		procs, netns := c.procs, c.netns
		c.mu.Unlock()
		c.closeErr = teardown(procs, netns, c.dir)
	})
	return c.closeErr
}
