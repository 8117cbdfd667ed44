package profile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
)

func TestReferenceLoads(t *testing.T) {
	p, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	if !p.Metadata.Reference || p.Metadata.Name != ReferenceName || len(p.Provenance.Sources) == 0 {
		t.Errorf("metadata = %+v", p.Metadata)
	}
	idx := NewIndex(p)
	for _, mode := range []dataplane.Mode{dataplane.Sidecar, dataplane.Waypoint} {
		for _, proto := range dataplane.Protocols {
			k := Key{Mode: mode, Protocol: proto, MTLS: true, Side: Inbound, Direction: Request}
			if !idx.Has(k) {
				t.Errorf("reference lacks %s", k)
			}
		}
	}
}

func TestLinearAt(t *testing.T) {
	l := Linear{Intercept: 10, PerKiB: 4}
	for bytes, want := range map[float64]float64{0: 10, 1024: 14, 512: 12, 16384: 74} {
		if got := l.At(bytes); got != want {
			t.Errorf("At(%v) = %v, want %v", bytes, got, want)
		}
	}
}

func TestRateFactor(t *testing.T) {
	p := &Profile{RateFactors: []RateCurve{{Mode: "sidecar", Points: []RatePoint{{1000, 1}, {2000, 0.8}, {4000, 0.5}}}}}
	for _, c := range []struct {
		rps    float64
		want   float64
		wantIn bool
	}{{500, 1, false}, {1000, 1, true}, {1500, 0.9, true}, {3000, 0.65, true}, {4000, 0.5, true}, {9000, 0.5, false}} {
		f, in := p.RateFactor("sidecar", c.rps)
		if f < c.want-1e-12 || f > c.want+1e-12 || in != c.wantIn {
			t.Errorf("RateFactor(%v) = %v, %v; want %v, %v", c.rps, f, in, c.want, c.wantIn)
		}
	}
	if f, in := p.RateFactor("ambient", 10); f != 1 || !in {
		t.Errorf("mode without a curve: %v %v", f, in)
	}
}

func TestParseRejects(t *testing.T) {
	ref, err := os.ReadFile("reference.json")
	if err != nil {
		t.Fatal(err)
	}
	s := string(ref)
	cases := map[string]struct{ in, want string }{
		"unknown field":   {strings.Replace(s, `"kind"`, `"knd": 1, "kind"`, 1), "unknown field"},
		"version":         {strings.Replace(s, APIVersion, "meshinsight.dev/v0", 1), "apiVersion"},
		"component":       {strings.Replace(s, `"component": "parsing"`, `"component": "magic"`, 1), "unknown component"},
		"side":            {strings.Replace(s, `"side": "outbound"`, `"side": "sideways"`, 1), "side"},
		"duplicate":       {strings.Replace(s, `"component": "tls"`, `"component": "socket-write"`, 1), "duplicates"},
		"rate order":      {strings.Replace(s, `"requestsPerSecond": 2000`, `"requestsPerSecond": 500`, 1), "increasing rate order"},
		"unknown source":  {strings.Replace(s, `"source": "istio-1.24-perf"`, `"source": "hearsay"`, 1), "not listed"},
		"not json":        {"{", "invalid profile"},
		"range low > 1":   {strings.Replace(s, `"component": "parsing",`, `"component": "parsing", "range": {"latencyP50Micros": {"low": 1.2, "high": 1.3}, "latencyP99Micros": {"low": 1, "high": 1}, "cpuMicrosPerRequest": {"low": 1, "high": 1}},`, 1), "range latencyP50Micros"},
		"range high huge": {strings.Replace(s, `"component": "parsing",`, `"component": "parsing", "range": {"latencyP50Micros": {"low": 1, "high": 1}, "latencyP99Micros": {"low": 1, "high": 1}, "cpuMicrosPerRequest": {"low": 0.5, "high": 1e300}},`, 1), "range cpuMicrosPerRequest"},
		"empty models":    {`{"apiVersion": "meshinsight.dev/v1alpha1", "kind": "Profile", "metadata": {"name": "x"}, "provenance": {"platform": {}, "method": ""}, "models": []}`, "at least one model"},
		// Issue #13 item 8: a measured profile never has negative or
		// astronomical costs; one that has them is corrupted or tampered.
		"negative cost":  {strings.Replace(s, `"intercept": 7.5`, `"intercept": -7.5`, 1), "cpuMicrosPerRequest.intercept is -7.5, want a number from 0 to 1e+07"},
		"huge cost":      {strings.Replace(s, `"perKiB": 4.275`, `"perKiB": 1e308`, 1), "latencyP50Micros.perKiB is 1e+308"},
		"huge factor":    {strings.Replace(s, "\"factor\": 0.5\n", "\"factor\": 1e300\n", 1), "the factor at most 1000"},
		"huge memory":    {strings.Replace(s, `"memoryMiB": 60`, `"memoryMiB": 1e300`, 1), "memoryMiB is 1e+300"},
		"negative sizes": {strings.Replace(s, `"maxBytes": 1024`, `"maxBytes": -1`, 1), "provenance.maxBytes is -1"},
		"node busy > 1":  {strings.Replace(s, `"maxBytes": 1024`, `"maxBytes": 1024, "load": {"arrivals": "poisson", "connections": 4, "connectionsKept": "cell", "nodeBusy": 1.5}`, 1), "provenance.load.nodeBusy is 1.5"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want %q wrapping ErrInvalid", err, c.want)
			}
		})
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	p, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sub", "p.json")
	if err := WriteFile(path, p); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Models) != len(p.Models) || back.Metadata != p.Metadata {
		t.Error("round trip changed the profile")
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "reading profile") {
		t.Errorf("missing file: %v", err)
	}
}
