package printers

import (
	"reflect"
	"testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

func TestGroupMessages(t *testing.T) {
	msgs := []diag.Message{
		diag.New(diag.DefaultUsed, "a->b", "mtls not set; using default true"),
		diag.New(diag.DefaultUsed, "ns/a", "mode not set; using default sidecar"),
		diag.New(diag.DefaultUsed, "b->c", "mtls not set; using default true"),
		diag.New(diag.DefaultUsed, "c->d", "mtls not set; using default true"),
		diag.New(diag.DefaultUsed, "ns/b", "mode not set; using default sidecar"),
		diag.New(diag.ReferenceProfile, "ref", "reference profile"),
		diag.New(diag.DefaultUsed, "x->y", "request size not set"),
	}
	want := []string{
		"Info [MI0001] (on 3 edges: a->b, b->c and 1 more) mtls not set; using default true",
		"Info [MI0001] (on 2 workloads: ns/a, ns/b) mode not set; using default sidecar",
		"Info [MI0007] (ref) reference profile",
		"Info [MI0001] (x->y) request size not set",
	}
	if got := groupMessages(msgs); !reflect.DeepEqual(got, want) {
		t.Errorf("groupMessages =\n%q\nwant\n%q", got, want)
	}
}
