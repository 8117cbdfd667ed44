package datapath

import (
	"bytes"
	"strconv"
	"strings"
)

// listensOn reports whether a /proc/net/tcp{,6} table has a socket in
// state LISTEN (0A) on port.
func listensOn(table []byte, port int) bool {
	for i, line := range bytes.Split(table, []byte("\n")) {
		f := strings.Fields(string(line))
		if i == 0 || len(f) < 4 || f[3] != "0A" {
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(p) == port {
			return true
		}
	}
	return false
}
