package diag

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestCodesAreDocumentedAndUnique(t *testing.T) {
	seen := map[Code]bool{}
	for _, c := range Codes {
		if seen[c.Code] {
			t.Errorf("duplicate code %s", c.Code)
		}
		seen[c.Code] = true
		if c.Title == "" || c.Help == "" || (c.Severity != Info && c.Severity != Warning) {
			t.Errorf("%s is not fully documented: %+v", c.Code, c)
		}
	}
}

func TestListDeduplicatesAndSorts(t *testing.T) {
	var l List
	l.Add(New(DefaultUsed, "b", "x %d", 1))
	l.Add(New(MTLSImpossible, "a", "y"))
	l.Add(New(DefaultUsed, "b", "x %d", 1))
	l.Add(New(DefaultUsed, "a", "x %d", 1))
	got := l.Sorted()
	if len(got) != 3 || got[0].Code != MTLSImpossible || got[1].Subject != "a" || got[2].Subject != "b" {
		t.Errorf("sorted = %v", got)
	}
	if s := got[0].String(); !strings.HasPrefix(s, "Warning [MI0002] (a) y") {
		t.Errorf("String() = %q", s)
	}
}

// TestREADMEListsEveryCode keeps the README's table of codes complete.
func TestREADMEListsEveryCode(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Codes {
		row := fmt.Sprintf("| %s | %s |", c.Code, c.Severity)
		if !strings.Contains(string(b), row) {
			t.Errorf("README.md lacks a row starting %q", row)
		}
	}
}

func TestHas(t *testing.T) {
	msgs := []Message{New(DefaultUsed, "shop/web->shop/api", "protocol not set; using http")}
	for text, want := range map[string]bool{"": true, "shop/web": true, "using http": true, "grpc": false} {
		if got := Has(msgs, DefaultUsed, text); got != want {
			t.Errorf("Has(%q) = %v", text, got)
		}
	}
	if Has(msgs, CycleInGraph, "") {
		t.Error("Has matched another code")
	}
}
