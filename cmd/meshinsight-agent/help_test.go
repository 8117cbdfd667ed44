package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshinsight/kubectl-meshinsight/pkg/agent"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// TestHelpFlags checks every command's flag help for pflag's pitfalls: an
// empty default printed as (default []), floats as 500.000000, a default
// given twice, and a backquoted word taken as the flag's type.
func TestHelpFlags(t *testing.T) {
	root := newRootCommand(io.Discard, io.Discard)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		usage := c.LocalFlags().FlagUsages()
		for _, line := range strings.Split(usage, "\n") {
			if strings.Contains(line, "(default [])") || strings.Contains(line, ".000000") || strings.Count(line, "(default") > 1 {
				t.Errorf("%s: %s", c.CommandPath(), strings.TrimSpace(line))
			}
			if f := strings.Fields(line); len(f) > 2 && strings.HasPrefix(f[0], "--") && f[1] == "kubectl" {
				t.Errorf("%s: a backquoted word became the type: %s", c.CommandPath(), strings.TrimSpace(line))
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	var b bytes.Buffer
	root.SetOut(&b)
	root.SetArgs([]string{"profile", "--help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "--rates numbers") || !strings.Contains(b.String(), "(default 500,2000)") {
		t.Errorf("profile --help:\n%s", b.String())
	}
}

// --memory-services 0 skips the memory model; the default measures it.
func TestMemoryServicesZeroSkips(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{{nil, 3}, {[]string{"--memory-services", "0"}, 0}, {[]string{"--memory-services", "10,100"}, 2}} {
		cmd, o := newProfileCommandOptions(io.Discard, io.Discard)
		if err := cmd.ParseFlags(append([]string{"--local"}, tc.args...)); err != nil {
			t.Fatal(err)
		}
		cfg, err := o.config(io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.MemoryServices) != tc.want {
			t.Errorf("%v: memory services %v, want %d of them", tc.args, cfg.MemoryServices, tc.want)
		}
	}
}

// fit writes the profile of the cells it is given, like the run's.
func TestFitRefitsCells(t *testing.T) {
	dir := t.TempDir()
	cell := func(bytes int, cpuNanos uint64) agent.Measurement {
		return agent.Measurement{
			Cell:         agent.Cell{Protocol: "tcp", RatePerSecond: 150, Bytes: bytes},
			MeshRequests: 1000,
			Rounds:       []agent.Round{{MeshP50Micros: 400, BypassP50Micros: 100, MeshP99Micros: 900, BypassP99Micros: 300}},
			Sides: []agent.SideMeasurement{
				{Side: profile.Outbound, OnCPUNanos: cpuNanos, Samples: map[profile.Component]uint64{profile.Epoll: 2}},
				{Side: profile.Inbound, OnCPUNanos: cpuNanos, Samples: map[profile.Component]uint64{profile.SocketRead: 2}},
			},
		}
	}
	ms := []agent.Measurement{cell(128, 130e6), cell(4096, 132e6)}
	like, err := agent.BuildProfile(ms, "local-haproxy-run", time.Now(), agent.Platform{Proxy: "haproxy"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(ms)
	if err != nil {
		t.Fatal(err)
	}
	cells, likePath, out := filepath.Join(dir, "cells.json"), filepath.Join(dir, "profile.json"), filepath.Join(dir, "refit.json")
	if err := os.WriteFile(cells, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := profile.WriteFile(likePath, like); err != nil {
		t.Fatal(err)
	}
	root := newRootCommand(io.Discard, io.Discard)
	root.SetArgs([]string{"fit", "--measurements", cells, "--like", likePath, "-o", out})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	p, err := profile.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var inbound float64
	for _, m := range p.Models {
		if m.Side == profile.Inbound {
			inbound += m.CPUMicrosPerRequest.At(128)
		}
	}
	if p.Metadata.Name != "local-haproxy-run" || math.Abs(inbound-130) > 1e-6 {
		t.Errorf("refit %q: inbound CPU at 128 B %.3f, want the run's name and the measured 130", p.Metadata.Name, inbound)
	}
	root = newRootCommand(io.Discard, io.Discard)
	root.SetArgs([]string{"fit", "--like", likePath})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "--measurements") {
		t.Errorf("fit without --measurements: %v, want an error naming it", err)
	}
}
