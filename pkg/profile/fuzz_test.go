package profile

import (
	"bytes"
	"os"
	"testing"
)

// FuzzParse: whatever a profile file (or a hand-off, or the cluster's
// ConfigMap) holds, Parse accepts only what Validate accepts, with every
// number in range, and what it accepts writes back and parses again.
func FuzzParse(f *testing.F) {
	if ref, err := os.ReadFile("reference.json"); err == nil {
		f.Add(ref)
	}
	f.Add([]byte(`{"apiVersion":"meshinsight.dev/v1alpha1","kind":"Profile","metadata":{"name":"x"},"provenance":{"platform":{},"method":""},` +
		`"models":[{"mode":"sidecar","protocol":"http","mtls":true,"side":"inbound","direction":"request","component":"parsing",` +
		`"latencyP50Micros":{"intercept":1,"perKiB":2},"latencyP99Micros":{"intercept":3,"perKiB":4},"cpuMicrosPerRequest":{"intercept":5,"perKiB":6}}],` +
		`"rateFactors":[{"mode":"sidecar","points":[{"requestsPerSecond":100,"factor":1}]}]}`))
	f.Add([]byte("apiVersion: meshinsight.dev/v1alpha1\nkind: Profile\nmodels: [{intercept: -1}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("parsed but invalid: %v", err)
		}
		for _, m := range p.Models {
			for _, l := range []Linear{m.LatencyP50Micros, m.LatencyP99Micros, m.CPUMicrosPerRequest} {
				if !(l.Intercept >= 0 && l.Intercept <= MaxMicros && l.PerKiB >= 0 && l.PerKiB <= MaxMicros) {
					t.Fatalf("coefficient out of range accepted: %+v", l)
				}
			}
		}
		b, err := Marshal(p)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := Parse(b)
		if err != nil {
			t.Fatalf("round trip: %v\n%s", err, b)
		}
		if b2, _ := Marshal(again); !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed the profile")
		}
	})
}
