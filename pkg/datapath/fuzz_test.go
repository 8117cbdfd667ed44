package datapath

import (
	"fmt"
	"testing"
)

// FuzzListensOn: any /proc/net/tcp text is read without panicking, and a
// table holding a LISTEN line for a port says so.
func FuzzListensOn(f *testing.F) {
	f.Add([]byte("  sl  local_address rem_address   st\n   0: 00000000:3A9E 00000000:0000 0A 00000000:00000000\n"), 15006)
	f.Add([]byte("\n\n0: :: 0A\n"), 0)
	f.Fuzz(func(t *testing.T, table []byte, port int) {
		listensOn(table, port)
		if port < 0 || port > 0xffff {
			return
		}
		header := []byte("  sl  local_address rem_address   st\n")
		line := fmt.Sprintf("   0: 00000000:%04X 00000000:0000 0A 00000000:00000000\n", port)
		withLine := append(append(append(header, table...), '\n'), line...)
		if !listensOn(withLine, port) {
			t.Errorf("a LISTEN line for port %d was missed in\n%q", port, withLine)
		}
	})
}
