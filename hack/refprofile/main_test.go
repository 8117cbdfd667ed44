package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// TestEmbeddedIsCurrent fails when pkg/profile/reference.json was not regenerated
// after a change here: run `make generate`.
func TestEmbeddedIsCurrent(t *testing.T) {
	want, err := profile.Marshal(build())
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../pkg/profile/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("pkg/profile/reference.json is stale: run `make generate`")
	}
}

// TestEveryModelCitesASource keeps each coefficient traceable.
func TestEveryModelCitesASource(t *testing.T) {
	p := build()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, m := range p.Models {
		if m.Source == "" || m.Note == "" {
			t.Errorf("%s/%s has no source or note", m.Key, m.Component)
		}
	}
	for _, c := range p.RateFactors {
		if c.Source == "" {
			t.Errorf("rate curve %s has no source", c.Mode)
		}
	}
}

// TestRateFactorsFromIssue15335 re-derives the factors by hand: CPU per request at
// 2k qps relative to 1k is (0.30/2000)/(0.18/1000).
func TestRateFactorsFromIssue15335(t *testing.T) {
	f, in := build().RateFactor("sidecar", 2000)
	if !in || f < 0.8333 || f > 0.8334 {
		t.Errorf("factor at 2000 = %v (in range %v), want 0.8333", f, in)
	}
}

// TestMemoryModelReproducesIstio re-derives the published figure: a sidecar
// with the load-test mesh's configuration (1000 clusters, 2000 endpoints)
// holds 60 MiB, and each cluster and endpoint costs Envoy's bounds.
func TestMemoryModelReproducesIstio(t *testing.T) {
	m, ok := build().ProxyMemory("sidecar")
	if !ok {
		t.Fatal("no sidecar memory model")
	}
	if got := m.MiB(profile.MemoryConfig{Clusters: 1000, Endpoints: 2000, WorkerThreads: 2}); got < 59.999 || got > 60.001 {
		t.Errorf("load-test mesh: %.4f MiB, want 60", got)
	}
	if m.PerClusterBytes != 42000 || m.PerEndpointBytes != 3000 || m.Source == "" {
		t.Errorf("model %+v: want Envoy's bounds, with a source", m)
	}
}
