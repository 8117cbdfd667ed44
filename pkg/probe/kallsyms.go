package probe

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// KernelSymbol is one kernel text symbol from /proc/kallsyms.
type KernelSymbol struct {
	Addr uint64
	Name string
	// Module is the module the symbol belongs to, "" for the core kernel
	// ("bpf" for JIT-compiled BPF programs).
	Module string
}

// KernelSymbols resolves kernel instruction pointers to function names.
type KernelSymbols struct {
	syms []KernelSymbol // sorted by Addr
}

// ErrKallsymsHidden is returned when /proc/kallsyms shows only zero
// addresses, because the reader lacks CAP_SYSLOG or kernel.kptr_restrict
// is 2.
var ErrKallsymsHidden = errors.New("kernel symbol addresses are hidden: run as root (CAP_SYSLOG) with kernel.kptr_restrict below 2")

// LoadKernelSymbols reads /proc/kallsyms.
func LoadKernelSymbols() (*KernelSymbols, error) {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return nil, fmt.Errorf("opening kallsyms: %w", err)
	}
	defer f.Close()
	return ParseKernelSymbols(f)
}

// ParseKernelSymbols parses kallsyms lines ("<hex addr> <type> <name>
// [module]"), keeping text symbols (types t, T, w, W): sampled kernel stacks
// only hold addresses in code, and data symbols would only shadow them.
func ParseKernelSymbols(r io.Reader) (*KernelSymbols, error) {
	var syms []KernelSymbol
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	line := 0
	sawAddress := false
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 3 {
			return nil, fmt.Errorf("parsing kallsyms line %d: want at least 3 fields, got %d", line, len(f))
		}
		addr, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			return nil, fmt.Errorf("parsing kallsyms line %d: %w", line, err)
		}
		if addr != 0 {
			sawAddress = true
		}
		switch f[1] {
		case "t", "T", "w", "W":
		default:
			continue
		}
		sym := KernelSymbol{Addr: addr, Name: f[2]}
		if len(f) > 3 {
			sym.Module = strings.Trim(f[3], "[]")
		}
		syms = append(syms, sym)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading kallsyms: %w", err)
	}
	if line > 0 && !sawAddress {
		return nil, ErrKallsymsHidden
	}
	// Stable: of several names at one address keep the first listed, which
	// is the one the kernel's own symbolizer prints.
	sort.SliceStable(syms, func(i, j int) bool { return syms[i].Addr < syms[j].Addr })
	return &KernelSymbols{syms: syms}, nil
}

// Len is the number of text symbols known.
func (k *KernelSymbols) Len() int { return len(k.syms) }

// Lookup finds the symbol containing addr: the one with the highest address
// not above it. kallsyms has no sizes, so an address past the end of the last
// function still resolves to it.
func (k *KernelSymbols) Lookup(addr uint64) (KernelSymbol, bool) {
	i := sort.Search(len(k.syms), func(i int) bool { return k.syms[i].Addr > addr })
	if i == 0 {
		return KernelSymbol{}, false
	}
	sym := k.syms[i-1]
	// Several names may share an address; report the first.
	for i-2 >= 0 && k.syms[i-2].Addr == sym.Addr {
		i--
		sym = k.syms[i-1]
	}
	return sym, true
}

// Resolve returns the name of the function containing addr.
func (k *KernelSymbols) Resolve(addr uint64) (string, bool) {
	sym, ok := k.Lookup(addr)
	return sym.Name, ok
}
