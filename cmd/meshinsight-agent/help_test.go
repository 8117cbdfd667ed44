package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
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
