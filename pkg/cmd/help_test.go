package cmd

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// TestHelpFlags checks every command's flag help for pflag's pitfalls: an
// empty default printed as (default []), floats as 500.000000, a default
// given twice.
func TestHelpFlags(t *testing.T) {
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, line := range strings.Split(c.LocalFlags().FlagUsages(), "\n") {
			if strings.Contains(line, "(default [])") || strings.Contains(line, ".000000") || strings.Count(line, "(default") > 1 {
				t.Errorf("%s: %s", c.CommandPath(), strings.TrimSpace(line))
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRootCommand(streams))
}

// TestTablesFit80Columns checks that every line of the default table output
// of every embedded example, with and without a what-if, fits 80 columns,
// as kubectl's does; -o wide is not held to it.
func TestTablesFit80Columns(t *testing.T) {
	for _, ex := range []string{"bookinfo", "online-boutique", "ambient-shop"} {
		for _, whatIf := range [][]string{nil, {"--what-if", "mtls=off"}, {"--what-if", "mode=ambient"}, {"--what-if", "scope=observed"}, {"--speedup", "testdata/speedup.yaml"}} {
			args := append([]string{"predict", "-f", "example:" + ex}, whatIf...)
			out, _, err := execute(t, args...)
			if err != nil {
				t.Fatalf("%v: %v", args, err)
			}
			for _, line := range strings.Split(out, "\n") {
				if n := utf8.RuneCountInString(line); n > 80 {
					t.Errorf("%v: a line of %d columns:\n%s", args, n, line)
				}
			}
		}
	}
	out, _, err := execute(t, "predict", "-f", "example:online-boutique", "-o", "wide")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool { return utf8.RuneCountInString(l) > 80 }) {
		t.Error("-o wide fits 80 columns: it should show every column")
	}
}
