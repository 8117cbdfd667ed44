package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/datapath"
	"github.com/meshinsight/kubectl-meshinsight/pkg/loadgen"
)

// Ports of the echo server in the server pod: the meshed port and the bypass
// port, which is excluded from interception inbound and outbound.
const (
	MeshPort   = 8080
	BypassPort = 9090
)

// helperUID runs the helpers as root: the nat rules intercept every uid but
// the proxies' 1337, so root traffic is meshed like any app's, and root can
// execute the agent binary wherever it was installed (or built by go test).
const helperUID = 0

// RigConfig describes one variant's datapath.
type RigConfig struct {
	// Prefix names the datapath (at most 12 characters of [a-z0-9-]).
	Prefix string
	// Proxy is "haproxy" or "nginx".
	Proxy string
	// Protocol is the workload protocol (tcp or http).
	Protocol loadgen.Protocol
	MTLS     bool
	// Helper is the helper program's argv prefix (Config.Helper).
	Helper []string
	// Dir holds load jobs and outcomes.
	Dir string
}

// Rig is a built datapath with the echo server running in its server pod
// and a load server in its client pod: what the agent measures one variant
// on. The load server keeps its connections open from job to job, as a
// long-lived client does (see LoadServer).
type Rig struct {
	cfg    RigConfig
	dp     *datapath.Datapath
	server *datapath.Process
	load   func(context.Context, LoadJob) (*LoadOutcome, error)
}

// NewRig builds the datapath and starts the echo server on MeshPort and
// BypassPort. ctx bounds the building; on error everything is torn down.
func NewRig(ctx context.Context, cfg RigConfig) (_ *Rig, err error) {
	var proxy datapath.Proxy
	switch cfg.Proxy {
	case "haproxy":
		proxy = datapath.HAProxy{}
	case "nginx":
		proxy = datapath.NGINX{}
	default:
		return nil, fmt.Errorf("proxy %q: want one of %v", cfg.Proxy, Proxies)
	}
	mode := datapath.ModeHTTP
	if cfg.Protocol == loadgen.TCP {
		mode = datapath.ModeTCP
	}
	dp, err := datapath.Build(ctx, datapath.Spec{
		Prefix:               cfg.Prefix,
		Sidecars:             datapath.SidecarBoth,
		Mode:                 mode,
		MTLS:                 cfg.MTLS,
		Proxy:                proxy,
		AppPort:              MeshPort,
		ExcludeInboundPorts:  []int{BypassPort},
		ExcludeOutboundPorts: []int{BypassPort},
	})
	if err != nil {
		return nil, fmt.Errorf("building the %s datapath: %w", cfg.Proxy, err)
	}
	r := &Rig{cfg: cfg, dp: dp}
	defer func() {
		if err != nil {
			err = errors.Join(err, r.Close())
		}
	}()
	listen := fmt.Sprintf(":%d,:%d", MeshPort, BypassPort)
	// The server lives as long as the datapath: Close stops it.
	r.server, err = dp.Start(context.WithoutCancel(ctx), datapath.Server, ServeArgv(cfg.Helper, cfg.Protocol, listen), helperUID)
	if err != nil {
		return nil, fmt.Errorf("starting the echo server: %w", err)
	}
	for _, port := range []int{MeshPort, BypassPort} {
		if err := dp.WaitListening(ctx, datapath.Server, port); err != nil {
			return nil, fmt.Errorf("waiting for the echo server on :%d: %w (output: %s)", port, err, tail(r.server.Output()))
		}
	}
	r.load, err = StartLoadServer(ctx, cfg.Dir, cfg.Prefix+"-load", cfg.Helper, func(argv []string) (*datapath.Process, error) {
		// The load server lives as long as the datapath: Close stops it.
		return dp.Start(context.WithoutCancel(ctx), datapath.Client, argv, helperUID)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// StartLoadServer runs the load server (helper's LoadServerArgv) with
// start, which places it in a pod, on a Unix socket <dir>/<name>.sock (the
// filesystem is shared, the network namespace is the pod's), and returns
// how to run jobs on it. The process lives until the caller stops it (a
// datapath's Close does).
func StartLoadServer(ctx context.Context, dir, name string, helper []string,
	start func(argv []string) (*datapath.Process, error)) (func(context.Context, LoadJob) (*LoadOutcome, error), error) {
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	tokenFile := filepath.Join(dir, name+".token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		return nil, fmt.Errorf("writing the load token: %w", err)
	}
	sock := filepath.Join(dir, name+".sock")
	proc, err := start(LoadServerArgv(helper, "unix:"+sock, tokenFile))
	if err != nil {
		return nil, fmt.Errorf("starting the load server: %w", err)
	}
	for {
		// The socket file appears at bind, before listen: only a connection
		// that is accepted says the server is ready.
		if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
			_ = c.Close()
			return RemoteLoad("unix:"+sock, token), nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the load server: %w (output: %s)", ctx.Err(), tail(proc.Output()))
		case <-proc.Done():
			return nil, fmt.Errorf("the load server exited: %v (output: %s)", proc.Err(), tail(proc.Output()))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a load token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// MeshTarget is the address the client dials through both proxies.
func (r *Rig) MeshTarget() string { return r.dp.ServerAddr(MeshPort).String() }

// BypassTarget is the address the client dials around the proxies.
func (r *Rig) BypassTarget() string { return r.dp.ServerAddr(BypassPort).String() }

// ProxyPIDs returns the client's (outbound) and the server's (inbound) proxy.
func (r *Rig) ProxyPIDs() (outbound, inbound int) {
	pids := r.dp.ProxyPIDs()
	return pids[datapath.Client], pids[datapath.Server]
}

// RunLoad runs a load job in the client pod and returns its outcome.
func (r *Rig) RunLoad(ctx context.Context, job LoadJob) (*LoadOutcome, error) {
	return r.load(ctx, job)
}

// RunLoadJob writes job to <dir>/<name>-job.json, runs the load helper
// (helper's LoadArgv) with start, which places it in the client's network
// namespace, and reads its outcome. name must be unique among concurrent
// jobs in dir.
func RunLoadJob(ctx context.Context, dir, name string, helper []string, job LoadJob,
	start func(argv []string) (*datapath.Process, error)) (*LoadOutcome, error) {
	jobPath := filepath.Join(dir, name+"-job.json")
	outPath := filepath.Join(dir, name+"-out.json")
	data, err := json.Marshal(job)
	if err != nil {
		return nil, fmt.Errorf("encoding load job: %w", err)
	}
	if err := os.WriteFile(jobPath, data, 0o600); err != nil {
		return nil, fmt.Errorf("writing load job: %w", err)
	}
	defer os.Remove(jobPath)
	defer os.Remove(outPath)
	proc, err := start(LoadArgv(helper, jobPath, outPath))
	if err != nil {
		return nil, fmt.Errorf("starting the load generator: %w", err)
	}
	select {
	case <-proc.Done():
	case <-ctx.Done():
		_ = proc.Stop()
		return nil, fmt.Errorf("load generator: %w", ctx.Err())
	}
	if err := proc.Err(); err != nil {
		return nil, fmt.Errorf("load generator: %w (output: %s)", err, tail(proc.Output()))
	}
	data, err = os.ReadFile(outPath)
	if err != nil {
		return nil, fmt.Errorf("reading load outcome: %w", err)
	}
	var out LoadOutcome
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("decoding load outcome: %w", err)
	}
	return &out, nil
}

// Close stops the server and tears the datapath down.
func (r *Rig) Close() error {
	done := make(chan error, 1)
	go func() { done <- r.dp.Close() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("tearing down datapath %s: %w", r.dp.Prefix(), err)
		}
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("tearing down datapath %s: still closing after 30s (run meshinsight-agent cleanup --prefix %s)", r.dp.Prefix(), r.dp.Prefix())
	}
}

// Cleanup removes what killed runs with this name prefix left behind:
// network namespaces with their processes, and temporary directories.
func Cleanup(ctx context.Context, prefix string) error {
	if err := datapath.Cleanup(ctx, prefix); err != nil {
		return fmt.Errorf("cleaning up datapaths %q: %w", prefix, err)
	}
	return nil
}

// tail keeps the end of a helper's output for error messages.
func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 600 {
		s = "…" + s[len(s)-600:]
	}
	if s == "" {
		return "none"
	}
	return s
}

// LocalTestbeds builds a node-local datapath per variant (the default).
func LocalTestbeds(ctx context.Context, v Variant) (Testbed, error) {
	proto := loadgen.HTTP
	if v.Protocol == "tcp" {
		proto = loadgen.TCP
	}
	r, err := NewRig(ctx, RigConfig{Prefix: v.Prefix, Proxy: v.Proxy, Protocol: proto, MTLS: v.MTLS, Helper: v.Helper, Dir: v.Dir})
	if err != nil {
		return nil, err
	}
	return r, nil
}
