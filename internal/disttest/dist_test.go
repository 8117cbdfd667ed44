//go:build dist

package disttest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

const plugin = "kubectl-meshinsight"

// TestReleaseArchive builds the linux/amd64 archive with make dist, unpacks
// it into an empty directory and runs the binary there as a user would.
func TestReleaseArchive(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("runs the linux/amd64 archive")
	}
	tmp := t.TempDir()
	dist := filepath.Join(tmp, "dist")
	make := exec.Command("make", "-C", "../..", "dist", "PLATFORMS=linux/amd64", "DIST="+dist)
	if out, err := make.CombinedOutput(); err != nil {
		t.Fatalf("make dist: %v\n%s", err, out)
	}
	home := filepath.Join(tmp, "home")
	dir := filepath.Join(tmp, "user")
	for _, d := range []string{home, dir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := unpack(t, filepath.Join(dist, "kubectl-meshinsight_linux_amd64.tar.gz"), dir)
	for _, want := range []string{plugin, "LICENSE", "README.md", "kubectl_complete-meshinsight"} {
		if !files[want] {
			t.Errorf("the archive lacks %s (has %v)", want, files)
		}
	}
	u := user{t: t, dir: dir, env: []string{"HOME=" + home, "PATH=/usr/bin:/bin", "NO_COLOR=1"}}

	help, _, err := u.run("--help")
	if err != nil || !strings.Contains(help, "Available Commands:") {
		t.Fatalf("--help: %v\n%s", err, help)
	}
	ran := 0
	for _, cmd := range commands(help) {
		out, _, err := u.run(cmd, "--help")
		if err != nil {
			t.Fatalf("%s --help: %v", cmd, err)
		}
		for _, ex := range examples(out) {
			args, why := offline(ex)
			if why != "" {
				t.Logf("not run (%s): kubectl meshinsight %s", why, ex)
				continue
			}
			ran++
			u.example(args)
		}
	}
	for _, ex := range examples(help) {
		if args, why := offline(ex); why == "" {
			ran++
			u.example(args)
		}
	}
	if ran < 12 {
		t.Errorf("only %d help examples run without a cluster; every -f example should use example:NAME", ran)
	}

	_, stderr, err := u.run("predict")
	if err == nil || !strings.Contains(stderr, "-f example:bookinfo") || !strings.Contains(stderr, "--kubeconfig") {
		t.Errorf("predict without a kubeconfig: %v\n%s", err, stderr)
	}
	// kubectl runs kubectl_complete-meshinsight from PATH to complete the
	// plugin's arguments.
	complete := exec.Command(filepath.Join(dir, "kubectl_complete-meshinsight"), "predict", "-f", "example:")
	complete.Dir, complete.Env = dir, []string{"HOME=" + home, "PATH=" + dir + ":/usr/bin:/bin"}
	if out, err := complete.CombinedOutput(); err != nil || !strings.Contains(string(out), "example:bookinfo") {
		t.Errorf("kubectl_complete-meshinsight predict -f example: %v\n%s", err, out)
	}
	validateKrewManifest(t, filepath.Join(dist, "kubectl-meshinsight_linux_amd64.tar.gz"), tmp)
}

// krewValidator is krew's own manifest validator, fetched by the go
// command from the module proxy (as krew-index's CI runs it).
const krewValidator = "sigs.k8s.io/krew/cmd/validate-krew-manifest@v0.4.3"

// addURIAndSha matches the krew-release-bot's template call.
var addURIAndSha = regexp.MustCompile(`\{\{\s*addURIAndSha "([^"]+)" \.TagName\s*\}\}`)

// validateKrewManifest renders .krew.yaml as the krew-release-bot would
// (the tag, then each platform's URI and the archive's sha256; every
// platform gets the linux/amd64 archive's sum, the only one built here)
// and checks it with krew's validate-krew-manifest (structure, names,
// selectors, file name; -skip-install, as the URIs do not exist yet).
func validateKrewManifest(t *testing.T, archive, tmp string) {
	t.Helper()
	tmpl, err := os.ReadFile("../../.krew.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	const tag = "v0.0.0-disttest"
	rendered := addURIAndSha.ReplaceAllStringFunc(string(tmpl), func(call string) string {
		uri := strings.ReplaceAll(addURIAndSha.FindStringSubmatch(call)[1], "{{ .TagName }}", tag)
		return "uri: " + uri + "\n    sha256: " + hex.EncodeToString(sum[:])
	})
	rendered = strings.ReplaceAll(rendered, "{{ .TagName }}", tag)
	if strings.Contains(rendered, "{{") {
		t.Fatalf("template calls left after rendering .krew.yaml:\n%s", rendered)
	}
	dir := filepath.Join(tmp, "krew")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(dir, "meshinsight.yaml") // krew: the file is named after the plugin
	if err := os.WriteFile(manifest, []byte(rendered), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "run", krewValidator, "-manifest", manifest, "-skip-install").CombinedOutput()
	if err != nil {
		t.Fatalf("validate-krew-manifest: %v\n%s\nmanifest:\n%s", err, out, rendered)
	}
	t.Logf("validate-krew-manifest: %s", strings.TrimSpace(string(out)))
}

// user runs the unpacked binary in dir with env only.
type user struct {
	t   *testing.T
	dir string
	env []string
}

func (u user) run(args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(filepath.Join(u.dir, plugin), args...)
	cmd.Dir, cmd.Env = u.dir, u.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// example runs one help example: it must exit 0 and print its output — a
// table (fitting 80 columns unless wide), JSON, a Graphviz graph, the
// examples or the version.
func (u user) example(args []string) {
	t := u.t
	line := "kubectl meshinsight " + strings.Join(args, " ")
	out, stderr, err := u.run(args...)
	if err != nil {
		t.Errorf("%s: %v\n%s", line, err, stderr)
		return
	}
	output := flagValue(args, "-o")
	switch {
	case slicesContains(args, "--list-examples"):
		if !strings.Contains(out, "example:bookinfo") {
			t.Errorf("%s printed no examples:\n%s", line, out)
		}
	case output == "json":
		if !json.Valid([]byte(out)) {
			t.Errorf("%s printed no JSON:\n%.300s", line, out)
		}
	case args[0] == "profile":
		if !strings.Contains(out, "kind: Job") {
			t.Errorf("%s printed no manifests:\n%.300s", line, out)
		}
	case args[0] == "version":
		if !strings.HasPrefix(out, "Client Version: ") {
			t.Errorf("%s printed no version:\n%s", line, out)
		}
	case output == "dot":
		if !strings.HasPrefix(out, "digraph") {
			t.Errorf("%s printed no graph:\n%.300s", line, out)
		}
	case output == "svg" || output == "html":
		if !strings.Contains(out, "<svg ") || !strings.HasSuffix(out, ">\n") {
			t.Errorf("%s printed no picture:\n%.300s", line, out)
		}
	default:
		if !regexp.MustCompile(`(?m)^EDGE\s`).MatchString(out) {
			t.Errorf("%s printed no table:\n%s", line, out)
		}
		if output == "wide" {
			return
		}
		for _, l := range strings.Split(out, "\n") {
			if utf8.RuneCountInString(l) > 80 {
				t.Errorf("%s: a line wider than 80 columns:\n%s", line, l)
			}
		}
	}
}

// commands lists the subcommands of the root help.
func commands(help string) []string {
	_, rest, _ := strings.Cut(help, "Available Commands:\n")
	var out []string
	for _, l := range strings.Split(rest, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || !strings.HasPrefix(l, "  ") {
			break
		}
		if f[0] != "help" && f[0] != "completion" {
			out = append(out, f[0])
		}
	}
	return out
}

// examples lists the command lines of a help's Examples section, without
// the `kubectl meshinsight` prefix, continuation lines joined.
func examples(help string) []string {
	_, rest, ok := strings.Cut(help, "Examples:\n")
	if !ok {
		return nil
	}
	rest, _, _ = strings.Cut(rest, "\n\nAvailable Commands:")
	rest, _, _ = strings.Cut(rest, "\n\nFlags:")
	rest = strings.ReplaceAll(rest, "\\\n", " ")
	var out []string
	for _, l := range strings.Split(rest, "\n") {
		if cmd, ok := strings.CutPrefix(strings.TrimSpace(l), "kubectl meshinsight "); ok {
			out = append(out, cmd)
		}
	}
	return out
}

// placeholders are the files and services of help examples that stand for
// the user's own; any other path an example names must ship with the binary
// (example:NAME), so an example going back to examples/bookinfo.yaml fails.
var placeholders = map[string]bool{
	"shop.yaml": true, "graph.yaml": true, "https://example.com/graphs/shop.yaml": true,
	"my-profile.json": true, "speedup.yaml": true, "traces.json": true, "./exports/": true,
	"http://localhost:16686": true,
}

// offline splits an example into arguments (up to a pipe or redirection)
// and says why it cannot run with the binary alone, or "" if it can.
func offline(example string) (args []string, why string) {
	args, err := split(example)
	if err != nil {
		return nil, err.Error()
	}
	for i, a := range args {
		if a == "|" || a == ">" || strings.HasPrefix(a, "#") {
			args = args[:i]
			break
		}
	}
	switch {
	case len(args) == 0:
		return nil, "empty"
	case args[0] == "version", args[0] == "profile" && slicesContains(args, "--dry-run=client"):
		return args, ""
	case args[0] != "predict":
		return nil, "needs a cluster"
	case slicesContains(args, "--list-examples"):
		return args, ""
	}
	for _, f := range []string{"-f", "--profile", "--speedup", "--traces", "--jaeger-url"} {
		if v := flagValue(args, f); placeholders[v] {
			return nil, "needs the user's " + v
		}
	}
	if flagValue(args, "-f") == "" && flagValue(args, "--traces") == "" && flagValue(args, "--jaeger-url") == "" {
		return nil, "needs a cluster"
	}
	return args, ""
}

// flagValue is the value given to flag in args ("-f X" or "-f=X"), or "".
func flagValue(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

// split splits a command line at blanks, honouring single quotes.
func split(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	quoted, inArg := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, inArg = !quoted, true
		case r == ' ' && !quoted:
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteRune(r)
			inArg = true
		}
	}
	if quoted {
		return nil, errors.New("unbalanced quote")
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}

func slicesContains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// unpack extracts a .tar.gz into dir and returns the names it held.
func unpack(t *testing.T, archive, dir string) map[string]bool {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Clean(h.Name)
		if h.Typeflag != tar.TypeReg || strings.Contains(name, "..") || strings.Contains(name, "/") {
			continue
		}
		names[name] = true
		out, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode)&0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatal(err)
		}
		out.Close()
	}
}
