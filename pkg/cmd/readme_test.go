package cmd

import (
	"os"
	"strings"
	"testing"
)

// readmeRun is a command quoted in README.md with the output shown after it.
type readmeRun struct {
	line int
	args []string
	// quiet drops stdout (the command ends in >/dev/null).
	quiet bool
	want  []string
}

// readmeRuns finds, in README's fenced blocks, every "$ kubectl meshinsight
// ..." line and the output lines after it up to the next "$ " line or the
// end of the block.
func readmeRuns(t *testing.T, readme string) []readmeRun {
	t.Helper()
	var runs []readmeRun
	var cur *readmeRun
	inBlock := false
	flush := func() {
		if cur != nil {
			runs = append(runs, *cur)
			cur = nil
		}
	}
	for i, l := range strings.Split(readme, "\n") {
		if strings.HasPrefix(l, "```") {
			flush()
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			continue
		}
		if rest, ok := strings.CutPrefix(l, "$ "); ok {
			flush()
			if cmdline, ok := strings.CutPrefix(rest, "kubectl meshinsight "); ok {
				r := readmeRun{line: i + 1}
				if c, ok := strings.CutSuffix(cmdline, " >/dev/null"); ok {
					cmdline, r.quiet = c, true
				}
				r.args = strings.Fields(cmdline)
				cur = &r
			}
			continue
		}
		if cur != nil {
			cur.want = append(cur.want, strings.TrimRight(l, " "))
		}
	}
	return runs
}

// TestREADMEOutputsAreTheBinarys runs every command README.md quotes with
// its output and checks the quoted lines appear, in order, in what the
// command prints ("..." stands for lines left out), so the README cannot
// drift from the binary.
func TestREADMEOutputsAreTheBinarys(t *testing.T) {
	t.Chdir("../..") // commands quote paths from the repository's root
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	runs := readmeRuns(t, string(data))
	if len(runs) < 3 {
		t.Fatalf("found %d quoted commands in README.md, want at least 3", len(runs))
	}
	for _, r := range runs {
		t.Run(strings.Join(r.args, " "), func(t *testing.T) {
			stdout, stderr, err := execute(t, r.args...)
			got := stderr
			if !r.quiet {
				got += stdout
			}
			if err != nil {
				got += "Error: " + err.Error() + "\n" // as main prints it
			}
			lines := strings.Split(got, "\n")
			for i := range lines {
				lines[i] = strings.TrimRight(lines[i], " ")
			}
			at := 0
			for _, w := range r.want {
				if strings.TrimSpace(w) == "..." || strings.TrimSpace(w) == "" {
					continue
				}
				found := false
				for at < len(lines) {
					at++
					if lines[at-1] == w {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("README.md line %d: %q is not in the output (in order) of kubectl meshinsight %s:\n%s",
						r.line, w, strings.Join(r.args, " "), got)
					return
				}
			}
		})
	}
}
