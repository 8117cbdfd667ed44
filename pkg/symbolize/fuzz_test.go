package symbolize

import (
	"strings"
	"testing"
)

// FuzzParseMaps: any /proc/PID/maps text parses or fails with an error,
// and no mapping parsed ends before it starts.
func FuzzParseMaps(f *testing.F) {
	f.Add("00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/envoy\n7ffd1a2b3000-7ffd1a2d4000 rw-p 00000000 00:00 0 [stack]\n")
	f.Add("55d0c0e00000-55d0c0e01000 r--p 00000000 fd:01 1049 /opt/my proxy (deleted)\n")
	f.Add("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n")
	f.Fuzz(func(t *testing.T, text string) {
		maps, err := ParseMaps(strings.NewReader(text))
		if err != nil {
			return
		}
		for _, m := range maps {
			if m.End < m.Start {
				t.Errorf("mapping %+v ends before it starts", m)
			}
		}
	})
}
