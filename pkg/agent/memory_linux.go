package agent

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/datapath"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// measureMemory starts the proxy once per memory configuration, alone in
// a pod of a datapath built for it (so that it binds the sidecar's ports
// as the datapath's proxies do), and reads its resident memory once it
// settled. It runs after the cells: nothing else is measured meanwhile.
func measureMemory(ctx context.Context, vr variantRun, logf func(string, ...any)) (_ []MemoryMeasurement, err error) {
	cells := vr.cfg.memoryCells()
	logf("[memory] %d configurations of up to %d upstream services", len(cells), slicesMax(vr.cfg.MemoryServices))
	bctx, cancel := context.WithTimeout(ctx, time.Minute)
	dp, err := datapath.Build(bctx, datapath.Spec{Prefix: vr.prefix + "m", Sidecars: datapath.SidecarNone})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("building the memory measurement's pod: %w", err)
	}
	defer func() { err = errors.Join(err, dp.Close()) }()
	dir, err := dp.ProxyDir("memory")
	if err != nil {
		return nil, err
	}
	proxy := datapath.HAProxy{}
	var out []MemoryMeasurement
	for i, c := range cells {
		pc := datapath.ProxyConfig{Pod: datapath.Client, Mode: datapath.ModeHTTP, InboundPort: datapath.InboundPort,
			OutboundPort: datapath.OutboundPort, MaxConn: 4096, Threads: c.threads, Dir: dir,
			AdminSocket: filepath.Join(dir, fmt.Sprintf("admin-%d.sock", i)), Upstreams: c.upstreams}
		m, err := measureOne(ctx, dp, proxy, pc, filepath.Join(dir, fmt.Sprintf("haproxy-%d.cfg", i)))
		if err != nil {
			return nil, fmt.Errorf("memory with %d services of %d endpoints at %d threads: %w",
				c.upstreams.Services, c.upstreams.EndpointsPerService, c.threads, err)
		}
		logf("[memory] %d clusters, %d endpoints, %d worker thread(s): %.2f MiB resident",
			m.Config.Clusters, m.Config.Endpoints, m.Config.WorkerThreads, m.RSSBytes/profile.MiB)
		out = append(out, m)
	}
	return out, nil
}

// measureOne runs the proxy with configuration pc (written to path) until
// it listens and its memory settles, and stops it.
func measureOne(ctx context.Context, dp *datapath.Datapath, proxy datapath.Proxy, pc datapath.ProxyConfig, path string) (MemoryMeasurement, error) {
	conf, err := proxy.Config(pc)
	if err != nil {
		return MemoryMeasurement{}, err
	}
	if err := os.WriteFile(path, conf, 0o644); err != nil {
		return MemoryMeasurement{}, fmt.Errorf("writing %s: %w", path, err)
	}
	proc, err := dp.Start(ctx, datapath.Client, proxy.Command(path), datapath.ProxyUID)
	if err != nil {
		return MemoryMeasurement{}, err
	}
	defer func() { _ = proc.Stop() }()
	for _, port := range []int{pc.InboundPort, pc.OutboundPort} {
		if err := dp.WaitListening(ctx, datapath.Client, port); err != nil {
			return MemoryMeasurement{}, fmt.Errorf("%w (output: %s)", err, tail(proc.Output()))
		}
	}
	rss, err := settledRSS(ctx, proc.PID())
	if err != nil {
		return MemoryMeasurement{}, err
	}
	size := datapath.ConfigSizeOf(pc)
	return MemoryMeasurement{Upstreams: pc.Upstreams, RSSBytes: float64(rss),
		Config: profile.MemoryConfig{Clusters: size.Clusters, Endpoints: size.Endpoints, WorkerThreads: pc.Threads}}, proc.Stop()
}

// settledRSS reads a process's resident memory every 50 ms until two
// readings in a row agree within 0.5 % (its start-up allocations are
// done), for at most three seconds.
func settledRSS(ctx context.Context, pid int) (uint64, error) {
	deadline := time.Now().Add(3 * time.Second)
	last, err := readRSS(pid)
	if err != nil {
		return 0, err
	}
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		now, err := readRSS(pid)
		if err != nil {
			return 0, err
		}
		if d := float64(now) - float64(last); d*d <= (0.005*float64(last))*(0.005*float64(last)) {
			return now, nil
		}
		last = now
	}
	return last, nil
}

// readRSS reads a process's resident set size (VmRSS) in bytes.
func readRSS(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the memory of process %d: %w", pid, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			f := bytes.Fields(v)
			if len(f) == 2 && string(f[1]) == "kB" {
				kb, err := strconv.ParseUint(string(f[0]), 10, 64)
				if err == nil {
					return kb << 10, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("process %d: no VmRSS in /proc/%d/status", pid, pid)
}

func slicesMax(v []int) int {
	m := 0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
