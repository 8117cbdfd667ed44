package probe

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzParseSchedstat: any /proc/PID/task/TID/schedstat line parses or
// fails with an error, and what parses prints back to the same numbers.
func FuzzParseSchedstat(f *testing.F) {
	f.Add("123456789 2345678 42\n")
	f.Add("18446744073709551615 0 0")
	f.Add("1 2")
	f.Fuzz(func(t *testing.T, line string) {
		s, err := parseSchedstat(line)
		if err != nil {
			return
		}
		again, err := parseSchedstat(fmt.Sprintf("%d %d %d", s.OnCPUNanos, s.RunqWaitNanos, s.Timeslices))
		if err != nil || again != s {
			t.Errorf("%q parsed to %+v, which prints back to %+v (%v)", line, s, again, err)
		}
	})
}

// FuzzParseKernelSymbols: any /proc/kallsyms text parses or fails with an
// error, and every lookup returns a symbol at or below the address.
func FuzzParseKernelSymbols(f *testing.F) {
	f.Add("ffffffff81000000 T _stext\nffffffff81000100 t do_one_initcall\nffffffffc0000000 t bpf_prog_1 [bpf]\n", uint64(0xffffffff81000050))
	f.Add("0000000000000000 T hidden\n", uint64(1))
	f.Add("ffffffff81000000 D data\nzz T x\n", uint64(0))
	f.Fuzz(func(t *testing.T, text string, addr uint64) {
		k, err := ParseKernelSymbols(strings.NewReader(text))
		if err != nil {
			return
		}
		if sym, ok := k.Lookup(addr); ok && sym.Addr > addr {
			t.Errorf("address %#x resolved to %+v, above it", addr, sym)
		}
	})
}
