package symbolize

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

//go:noinline
func knownFunction(x int) int { return x*3 + 1 }

func TestResolveSelf(t *testing.T) {
	p, err := ForProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	entry := uint64(reflect.ValueOf(knownFunction).Pointer())
	want := runtime.FuncForPC(uintptr(entry)).Name()
	f, ok := p.Resolve(entry)
	if !ok || f.Function != want || f.Offset != 0 {
		t.Fatalf("Resolve(%#x) = %+v, %v; want %s+0", entry, f, ok, want)
	}
	exe, _ := os.Executable()
	if f.Module != filepath.Base(exe) {
		t.Errorf("module %q, want %q", f.Module, filepath.Base(exe))
	}

	// A PC in the middle of this function, as a sampled stack would hold.
	pcs := make([]uintptr, 1)
	runtime.Callers(1, pcs)
	f, ok = p.Resolve(uint64(pcs[0]) - 1)
	if !ok || !strings.HasSuffix(f.Function, ".TestResolveSelf") || f.Offset == 0 {
		t.Errorf("Resolve(own pc) = %+v, %v; want TestResolveSelf+off", f, ok)
	}

	if _, ok := p.Resolve(0x10); ok {
		t.Error("Resolve(0x10) found a mapping")
	}
	st := p.ResolveStack([]uint64{entry, uint64(pcs[0])})
	if st[0].Function != want || !strings.HasSuffix(st[1].Function, ".TestResolveSelf") {
		t.Errorf("ResolveStack = %v", st)
	}
	mods := p.Modules()
	if len(mods) == 0 || (mods[0].Source != SourceSymtab && mods[0].Source != SourceGopclntab) || mods[0].Symbols < 1000 {
		t.Errorf("Modules() = %+v, want the test binary with Go symbols", mods)
	}
}

// TestResolveLibcWrite resolves libc's write in a real /bin/sleep process,
// computing the expected address independently from libc's first mapping.
func TestResolveLibcWrite(t *testing.T) {
	cmd := exec.Command("/bin/sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Skipf("no /bin/sleep: %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid

	var libc Mapping
	deadline := time.Now().Add(3 * time.Second)
	for libc.Path == "" && time.Now().Before(deadline) {
		f, err := os.Open(filepathJoin("/proc", pid, "maps"))
		if err != nil {
			t.Fatal(err)
		}
		maps, err := ParseMaps(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range maps {
			if strings.HasPrefix(filepath.Base(m.Path), "libc.so") && m.Offset == 0 {
				libc = m
				break
			}
		}
		if libc.Path == "" {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if libc.Path == "" {
		t.Skip("sleep does not map libc (static build?)")
	}
	ef, err := elf.Open(libc.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	dyn, err := ef.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	var write uint64
	for _, s := range dyn {
		if s.Name == "write" && s.Section != elf.SHN_UNDEF {
			write = s.Value
		}
	}
	var firstLoad *elf.Prog
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD {
			firstLoad = p
			break
		}
	}
	if write == 0 || firstLoad == nil || firstLoad.Off != 0 {
		t.Skip("unexpected libc layout")
	}
	addr := libc.Start - firstLoad.Vaddr + write

	p, err := ForProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []uint64{addr, addr + 4} {
		f, ok := p.Resolve(a)
		if !ok || f.Function != "write" || f.Offset != a-addr || !strings.HasPrefix(f.Module, "libc.so") {
			t.Errorf("Resolve(%#x) = %+v, %v; want write+%d in libc", a, f, ok, a-addr)
		}
	}
	for _, m := range p.Modules() {
		t.Logf("module %s: %s, %d functions, err %v", m.Path, m.Source, m.Symbols, m.Err)
	}
	// sleep itself is a stripped PIE: addresses in it still name the module.
	for _, m := range p.maps {
		if filepath.Base(m.Path) == "sleep" {
			f, ok := p.Resolve(m.Start + 16)
			if !ok || f.Module != "sleep" {
				t.Errorf("Resolve in sleep = %+v, %v", f, ok)
			}
		}
	}
}

func filepathJoin(root string, pid int, name string) string {
	return filepath.Join(root, strconv.Itoa(pid), name)
}

func TestParseMaps(t *testing.T) {
	good := `55d0c8a00000-55d0c8a02000 r--p 00000000 fd:01 1048602                    /usr/bin/sleep
55d0c8a02000-55d0c8a06000 r-xp 00002000 fd:01 1048602                    /usr/bin/sleep
7f1e2c000000-7f1e2c021000 rw-p 00000000 00:00 0 
7f1e2c400000-7f1e2c428000 r-xp 00028000 103:02 2621548                   /opt/my app/lib x.so (deleted)
7ffd1b9f4000-7ffd1b9f6000 r-xp 00000000 00:00 0                          [vdso]
`
	maps, err := ParseMaps(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 5 {
		t.Fatalf("got %d mappings", len(maps))
	}
	want := Mapping{Start: 0x55d0c8a02000, End: 0x55d0c8a06000, Perms: "r-xp", Offset: 0x2000, Major: 0xfd, Minor: 1, Inode: 1048602, Path: "/usr/bin/sleep"}
	if maps[1] != want {
		t.Errorf("maps[1] = %+v, want %+v", maps[1], want)
	}
	if m := maps[3]; m.Path != "/opt/my app/lib x.so" || !m.Deleted || m.Major != 0x103 || !m.Executable() || !m.File() {
		t.Errorf("maps[3] = %+v", m)
	}
	if m := maps[2]; m.Path != "" || m.File() || m.Executable() {
		t.Errorf("maps[2] = %+v", m)
	}
	if m := maps[4]; m.Path != "[vdso]" || m.File() {
		t.Errorf("maps[4] = %+v", m)
	}

	bad := []struct{ line, want string }{
		{"55d0c8a00000 r--p 00000000 fd:01 1 /x", "no '-'"},
		{"zz-55d0c8a02000 r--p 00000000 fd:01 1 /x", "start address"},
		{"2000-1000 r--p 00000000 fd:01 1 /x", "below start"},
		{"1000-2000 r--p", "too few fields"},
		{"1000-2000 rp 00000000 fd:01 1 /x", "permissions"},
		{"1000-2000 r--p 0000g000 fd:01 1 /x", "offset"},
		{"1000-2000 r--p 00000000 fd01 1 /x", "device"},
		{"1000-2000 r--p 00000000 fd:01 x1 /x", "inode"},
		{"1000-2000", "too few fields"},
	}
	for _, tc := range bad {
		_, err := ParseMaps(strings.NewReader(good + tc.line + "\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "line 6") {
			t.Errorf("ParseMaps(%q) error = %v, want line 6 and %q", tc.line, err, tc.want)
		}
	}
}

func TestForProcessMissing(t *testing.T) {
	if _, err := ForProcess(1 << 30); err == nil || !strings.Contains(err.Error(), "pid 1073741824") {
		t.Errorf("ForProcess(missing) error = %v", err)
	}
}

// TestGopclntab reads function names from a Go binary built with -s, which
// has no .symtab.
func TestGopclntab(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() { println(\"hi\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "stripped")
	cmd := exec.Command(goBin, "build", "-ldflags=-s -w", "-o", out, src)
	cmd.Env = append(os.Environ(), "GOFLAGS=", "CGO_ENABLED=0", "GO111MODULE=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("building: %v\n%s", err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := loadTable(f)
	if err != nil {
		t.Fatal(err)
	}
	if tab.source != SourceGopclntab {
		t.Fatalf("source = %s, want %s", tab.source, SourceGopclntab)
	}
	if !slices.ContainsFunc(tab.syms, func(s symbol) bool { return s.name == "main.main" }) {
		t.Error("main.main not found in .gopclntab")
	}
}

// TestSystemProxies reports what Debian's haproxy and nginx binaries offer;
// it skips when they are not installed.
func TestSystemProxies(t *testing.T) {
	for _, path := range []string{"/usr/sbin/haproxy", "/usr/sbin/nginx"} {
		f, err := os.Open(path)
		if err != nil {
			t.Logf("%s: %v", path, err)
			continue
		}
		tab, err := loadTable(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		t.Logf("%s: %s, %d functions", path, tab.source, len(tab.syms))
	}
}

// TestHelperSleep is the child process of TestDeletedExecutable.
func TestHelperSleep(t *testing.T) {
	if os.Getenv("SYMBOLIZE_TEST_SLEEP") == "" {
		t.Skip("helper process only")
	}
	time.Sleep(5 * time.Second)
}

// TestDeletedExecutable resolves a process whose executable was deleted
// after it started (an upgraded binary): the file is read through
// /proc/PID/map_files.
func TestDeletedExecutable(t *testing.T) {
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Skipf("reading own executable: %v", err)
	}
	path := filepath.Join(t.TempDir(), "copy.test")
	if err := os.WriteFile(path, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "-test.run=^TestHelperSleep$")
	cmd.Env = append(os.Environ(), "SYMBOLIZE_TEST_SLEEP=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	// Start returns once the child is forked, not once it has exec'd the
	// copy: wait until the copy is mapped (a loaded machine showed only
	// [vsyscall] otherwise).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		maps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", cmd.Process.Pid))
		if strings.Contains(string(maps), path) || time.Now().After(deadline) {
			break
		}
	}
	os.Remove(path)

	p, err := ForProcess(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, m := range p.Modules() {
		if m.Path == path {
			found = true
			if m.Err != nil || m.Symbols < 1000 {
				t.Errorf("deleted module = %+v, want symbols read through map_files", m)
			}
		}
	}
	if !found {
		t.Errorf("no module %s in %+v", path, p.Modules())
	}
}
