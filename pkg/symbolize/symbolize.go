// Package symbolize resolves user-space instruction pointers of a running
// process to function names, reading the symbol tables of the ELF files the
// process has mapped. Files are opened through /proc/PID/root, so processes
// in containers resolve from the host PID namespace, and parsed tables are
// cached per file (device, inode, path) so many proxies of one image share
// one table.
//
// Names are returned as the ELF spells them (C++ and Rust names mangled);
// demangling is left to the consumer, which can cache it per name.
package symbolize

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
)

// Frame is a resolved instruction pointer.
type Frame struct {
	// Function is the symbol name, "" when the module has no symbol covering
	// the address (a stripped binary).
	Function string
	// Module is the base name of the mapped file ("envoy", "libc.so.6"), or
	// the kernel's pseudo name ("[vdso]") or "" for anonymous memory (JIT code).
	Module string
	// Offset is the distance from the start of Function; when Function is ""
	// it is the ELF virtual address inside Module (what addr2line takes), or
	// the offset inside the mapping for modules without an ELF table.
	Offset uint64
}

// String formats the frame as function+0xoff, or [module]+0xoff when the
// function is unknown.
func (f Frame) String() string {
	if f.Function != "" {
		return f.Function + "+0x" + strconv.FormatUint(f.Offset, 16)
	}
	return "[" + f.Module + "]+0x" + strconv.FormatUint(f.Offset, 16)
}

// Module describes one executable file mapped by a process.
type Module struct {
	// Path is the file name as the process sees it.
	Path string
	// Source is where function names came from: SourceSymtab, SourceDynsym,
	// SourceGopclntab or SourceNone.
	Source string
	// Symbols is the number of functions known.
	Symbols int
	// Err is why the file could not be read; its addresses resolve to the
	// module name only.
	Err error
}

// Process resolves addresses of one process. It is a snapshot of the
// process's mappings at ForProcess time and safe for concurrent use.
type Process struct {
	pid  int
	maps []mapped // executable mappings sorted by Start
}

type mapped struct {
	Mapping
	module string
	tab    *table // nil when unreadable or not a file
	bias   uint64
	err    error
}

// ForProcess reads /proc/PID/maps and the symbol tables of the process's
// executable file mappings. A file that cannot be read (gone, not ELF) does
// not fail the call: its addresses resolve to the module name and the reason
// is in Modules.
func ForProcess(pid int) (*Process, error) {
	return defaultCache.forProcess("/proc", pid)
}

// PID is the process the resolver was built for.
func (p *Process) PID() int { return p.pid }

// Resolve returns the frame of addr. ok is false when addr lies in no
// executable mapping; otherwise the frame names at least the module.
func (p *Process) Resolve(addr uint64) (Frame, bool) {
	i := sort.Search(len(p.maps), func(i int) bool { return p.maps[i].End > addr })
	if i == len(p.maps) || addr < p.maps[i].Start {
		return Frame{}, false
	}
	m := &p.maps[i]
	if m.tab == nil {
		return Frame{Module: m.module, Offset: addr - m.Start + m.Offset}, true
	}
	v := addr - m.bias
	if s, ok := m.tab.lookup(v); ok {
		return Frame{Function: s.name, Module: m.module, Offset: v - s.start}, true
	}
	return Frame{Module: m.module, Offset: v}, true
}

// ResolveStack resolves a leaf-first stack of instruction pointers as
// sampled by the kernel. Every frame but the leaf is a return address, which
// points after its call and may already lie in the next function, so it is
// looked up one byte earlier (the Offset reported keeps that adjustment).
// Unmapped addresses give a zero Frame.
func (p *Process) ResolveStack(ips []uint64) []Frame {
	out := make([]Frame, len(ips))
	for i, ip := range ips {
		if i > 0 && ip > 0 {
			ip--
		}
		out[i], _ = p.Resolve(ip)
	}
	return out
}

// Modules lists the executable files the process maps, one per path.
func (p *Process) Modules() []Module {
	var out []Module
	seen := map[string]bool{}
	for _, m := range p.maps {
		if m.Path == "" || seen[m.Path] {
			continue
		}
		seen[m.Path] = true
		mod := Module{Path: m.Path, Source: SourceNone, Err: m.err}
		if m.tab != nil {
			mod.Source, mod.Symbols = m.tab.source, len(m.tab.syms)
		}
		out = append(out, mod)
	}
	return out
}

// fileKey identifies a file across processes.
type fileKey struct {
	major, minor uint32
	inode        uint64
	path         string
}

// cache holds parsed symbol tables. Tables are kept for the life of the
// process: an agent sees few distinct proxy binaries.
type cache struct {
	mu     sync.Mutex
	tables map[fileKey]*table
}

var defaultCache = &cache{tables: map[fileKey]*table{}}

func (c *cache) forProcess(procfs string, pid int) (*Process, error) {
	dir := filepath.Join(procfs, strconv.Itoa(pid))
	f, err := os.Open(filepath.Join(dir, "maps"))
	if err != nil {
		return nil, fmt.Errorf("reading mappings of pid %d: %w", pid, err)
	}
	defer f.Close()
	all, err := ParseMaps(f)
	if err != nil {
		return nil, fmt.Errorf("reading mappings of pid %d: %w", pid, err)
	}
	p := &Process{pid: pid}
	for _, m := range all {
		if !m.Executable() {
			continue
		}
		mm := mapped{Mapping: m, module: m.Path}
		if m.File() {
			mm.module = filepath.Base(m.Path)
			mm.tab, mm.err = c.table(dir, m)
			if mm.tab != nil {
				b, ok := mm.tab.bias(m)
				if !ok {
					mm.tab = nil
					mm.err = fmt.Errorf("mapping at file offset %#x is in no loadable segment of %s", m.Offset, m.Path)
				}
				mm.bias = b
			}
		}
		p.maps = append(p.maps, mm)
	}
	sort.Slice(p.maps, func(i, j int) bool { return p.maps[i].Start < p.maps[j].Start })
	return p, nil
}

// table returns the cached table of m's file, reading it through the
// process's root (or, for deleted or unreachable files, through map_files).
func (c *cache) table(procDir string, m Mapping) (*table, error) {
	key := fileKey{m.Major, m.Minor, m.Inode, m.Path}
	c.mu.Lock()
	t, ok := c.tables[key]
	c.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := readTable(procDir, m)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.tables[key] = t
	c.mu.Unlock()
	return t, nil
}

func readTable(procDir string, m Mapping) (*table, error) {
	paths := []string{filepath.Join(procDir, "map_files", fmt.Sprintf("%x-%x", m.Start, m.End))}
	if !m.Deleted {
		paths = append([]string{filepath.Join(procDir, "root", m.Path)}, paths...)
	}
	var firstErr error
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		t, err := loadTableSafe(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading symbols of %s: %w", m.Path, err)
		}
		return t, nil
	}
	return nil, fmt.Errorf("opening %s: %w", m.Path, firstErr)
}

// loadTableSafe is loadTable turning a panic of the ELF or pclntab readers
// into an error: the files come from containers, so they may be hostile, and
// one bad binary must not take the agent down.
func loadTableSafe(f *os.File) (t *table, err error) {
	defer func() {
		if p := recover(); p != nil {
			t, err = nil, fmt.Errorf("malformed ELF: %v", p)
		}
	}()
	return loadTable(f)
}
