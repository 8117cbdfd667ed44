package callgraph

import (
	"testing"
)

// BenchmarkParseLarge parses a 10,000-workload, 100,000-edge graph file.
func BenchmarkParseLarge(b *testing.B) {
	for _, format := range []string{"yaml", "json"} {
		data, err := Marshal(Synthetic(10_000, 100_000, 1), format)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(format, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse("large."+format, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
