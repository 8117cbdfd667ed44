package probe

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func loadFixtureSymbols(t *testing.T) *KernelSymbols {
	t.Helper()
	f, err := os.Open("testdata/kallsyms")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	k, err := ParseKernelSymbols(f)
	if err != nil {
		t.Fatalf("ParseKernelSymbols: %v", err)
	}
	return k
}

func TestParseKernelSymbolsKeepsTextOnly(t *testing.T) {
	k := loadFixtureSymbols(t)
	// 19 lines: the 2 absolute (A), D, R and B symbols are dropped.
	if got, want := k.Len(), 14; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	for i := 1; i < len(k.syms); i++ {
		if k.syms[i-1].Addr > k.syms[i].Addr {
			t.Fatalf("symbols not sorted at %d: %#x > %#x", i, k.syms[i-1].Addr, k.syms[i].Addr)
		}
	}
}

func TestKernelSymbolsResolve(t *testing.T) {
	k := loadFixtureSymbols(t)
	tests := []struct {
		name   string
		addr   uint64
		want   string
		module string
		ok     bool
	}{
		{"below first symbol", 0xffffffff80000000, "", "", false},
		{"zero", 0, "", "", false},
		{"exact start, first of aliases", 0xffffffff81000000, "_stext", "", true},
		{"inside first alias range", 0xffffffff81000010, "_stext", "", true},
		{"exact function", 0xffffffff816d5b70, "vfs_read", "", true},
		{"inside function", 0xffffffff816d5b70 + 0x2a, "vfs_read", "", true},
		{"last byte before next", 0xffffffff816d5eff, "vfs_read", "", true},
		{"next function", 0xffffffff816d5f00, "vfs_write", "", true},
		{"local symbol", 0xffffffff81d7f4a0, "read_zero", "", true},
		{"symbol listed out of order", 0xffffffff81d80010, "write_zero", "", true},
		{"weak symbol", 0xffffffff81e00005, "arch_cpu_idle", "", true},
		{"data symbols are skipped", 0xffffffff82000110, "arch_cpu_idle", "", true},
		{"bpf program", 0xffffffffc0301080, "bpf_prog_6deef7357e7b4530_sched_switch", "bpf", true},
		{"module function", 0xffffffffc0a00010, "e1000_xmit_frame", "e1000", true},
		{"past the last symbol", 0xffffffffc0b00000, "e1000_probe", "e1000", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := k.Resolve(tt.addr)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Resolve(%#x) = %q, %v; want %q, %v", tt.addr, got, ok, tt.want, tt.ok)
			}
			sym, _ := k.Lookup(tt.addr)
			if sym.Module != tt.module {
				t.Errorf("Lookup(%#x).Module = %q, want %q", tt.addr, sym.Module, tt.module)
			}
		})
	}
}

func TestParseKernelSymbolsErrors(t *testing.T) {
	hidden, err := os.ReadFile("testdata/kallsyms-hidden")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		wantErr error
		wantMsg string
	}{
		{"addresses hidden", string(hidden), ErrKallsymsHidden, ""},
		{"bad address", "zzzz T foo\n", nil, "parsing kallsyms line 1"},
		{"too few fields", "ffffffff81000000 T\n", nil, "want at least 3 fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKernelSymbols(strings.NewReader(tt.in))
			if err == nil {
				t.Fatal("want error, got nil")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestParseKernelSymbolsEmpty(t *testing.T) {
	k, err := ParseKernelSymbols(strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := k.Resolve(0xffffffff81000000); ok {
		t.Error("empty table resolved an address")
	}
}
