package symbolize

import (
	"debug/elf"
	"debug/gosym"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Symbol sources, as reported by Module.Source.
const (
	SourceSymtab    = "symtab"    // .symtab (and .dynsym merged in)
	SourceDynsym    = "dynsym"    // only .dynsym: a stripped shared object or executable
	SourceGopclntab = "gopclntab" // a Go binary stripped of .symtab (plus any .dynsym)
	SourceNone      = "none"      // no function symbols at all
)

// symbol is one function: [start, end) in the ELF's virtual addresses.
// end == start when the symbol has no size.
type symbol struct {
	start, end uint64
	name       string
}

// table is the symbol table and load layout of one ELF file.
type table struct {
	syms   []symbol // sorted by start, one per start
	loads  []elf.ProgHeader
	source string
}

// loadTable reads an ELF's function symbols. .symtab and .dynsym are merged
// (a partially stripped binary keeps exported functions only in .dynsym);
// without .symtab, a Go binary's .gopclntab is added.
func loadTable(r io.ReaderAt) (*table, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("reading ELF: %w", err)
	}
	defer f.Close()
	t := &table{}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			t.loads = append(t.loads, p.ProgHeader)
		}
	}
	if len(t.loads) == 0 {
		return nil, errors.New("ELF has no loadable segments")
	}

	var cands []candidate
	symtab, err := f.Symbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, fmt.Errorf("reading .symtab: %w", err)
	}
	cands = appendFuncs(cands, symtab, 0)
	nsymtab := len(cands)
	dynsym, err := f.DynamicSymbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, fmt.Errorf("reading .dynsym: %w", err)
	}
	cands = appendFuncs(cands, dynsym, 1)
	switch {
	case nsymtab > 0:
		t.source = SourceSymtab
	case len(cands) > 0:
		t.source = SourceDynsym
	default:
		t.source = SourceNone
	}
	if nsymtab == 0 {
		// A Go binary linked with -s (go test does that) keeps its
		// functions in .gopclntab; with cgo it also has a few .dynsym
		// entries, which are kept.
		gs, err := goFuncs(f)
		if err == nil && len(gs) > 0 {
			cands = append(cands, gs...)
			t.source = SourceGopclntab
		}
	}
	t.syms = dedupe(cands)
	return t, nil
}

// candidate is a function symbol before aliases at one address are merged.
type candidate struct {
	symbol
	rank int // lower wins among aliases
}

func appendFuncs(out []candidate, syms []elf.Symbol, tableRank int) []candidate {
	for _, s := range syms {
		typ := elf.ST_TYPE(s.Info)
		if typ != elf.STT_FUNC && typ != elf.STT_GNU_IFUNC {
			continue
		}
		if s.Section == elf.SHN_UNDEF || s.Value == 0 || s.Name == "" {
			continue
		}
		rank := tableRank
		if elf.ST_BIND(s.Info) == elf.STB_LOCAL {
			rank += 4
		}
		// Of aliases (write, __write, __GI___write) prefer the plain name.
		rank += 8 * (len(s.Name) - len(strings.TrimLeft(s.Name, "_")))
		// Drop symbol versions (memcpy@@GLIBC_2.14).
		name, _, _ := strings.Cut(s.Name, "@")
		out = append(out, candidate{symbol{s.Value, s.Value + s.Size, name}, rank})
	}
	return out
}

// dedupe sorts candidates by address and keeps the best-ranked name per
// address.
func dedupe(c []candidate) []symbol {
	sort.SliceStable(c, func(i, j int) bool {
		if c[i].start != c[j].start {
			return c[i].start < c[j].start
		}
		return c[i].rank < c[j].rank
	})
	out := make([]symbol, 0, len(c))
	for i, s := range c {
		if i > 0 && s.start == c[i-1].start {
			// Keep the largest size any alias declares.
			if last := &out[len(out)-1]; s.end > last.end {
				last.end = s.end
			}
			continue
		}
		out = append(out, s.symbol)
	}
	return out
}

// goFuncs reads function ranges from a Go binary's .gopclntab, which
// survives `-ldflags=-s`.
func goFuncs(f *elf.File) ([]candidate, error) {
	sec := f.Section(".gopclntab")
	text := f.Section(".text")
	if sec == nil || text == nil {
		return nil, errors.New("no .gopclntab")
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("reading .gopclntab: %w", err)
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		return nil, fmt.Errorf("parsing .gopclntab: %w", err)
	}
	out := make([]candidate, 0, len(tab.Funcs))
	for _, fn := range tab.Funcs {
		out = append(out, candidate{symbol: symbol{fn.Entry, fn.End, fn.Name}})
	}
	return out, nil
}

// lookup finds the function containing the ELF virtual address v.
func (t *table) lookup(v uint64) (symbol, bool) {
	i := sort.Search(len(t.syms), func(i int) bool { return t.syms[i].start > v })
	if i == 0 {
		return symbol{}, false
	}
	s := t.syms[i-1]
	if s.end > s.start && v >= s.end {
		return symbol{}, false // in a gap between functions (padding, PLT)
	}
	return s, true
}

// bias computes the load bias of a mapping of this file: runtime address =
// bias + ELF virtual address. The segment that holds the mapping's file
// offset links the two; for non-PIE executables the result is 0.
func (t *table) bias(m Mapping) (uint64, bool) {
	best := -1
	for i, p := range t.loads {
		lo := p.Off &^ (pageSize - 1)
		if m.Offset < lo || m.Offset >= p.Off+p.Filesz {
			continue
		}
		if best < 0 || p.Flags&elf.PF_X != 0 {
			best = i
		}
	}
	if best < 0 {
		return 0, false
	}
	p := t.loads[best]
	return m.Start - m.Offset + p.Off - p.Vaddr, true
}

// pageSize is the smallest page size segments are aligned to; only its use as
// a mask for the segment's first page matters.
const pageSize = 4096
