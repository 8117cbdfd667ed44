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
