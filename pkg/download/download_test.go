package download

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/graph.yaml":
			w.Write([]byte("kind: CallGraph\n"))
		case "/big":
			w.Write([]byte(strings.Repeat("x", 101)))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	if data, err := Get(ctx, srv.Client(), srv.URL+"/graph.yaml", 100); err != nil || string(data) != "kind: CallGraph\n" {
		t.Errorf("Get = %q, %v", data, err)
	}
	if _, err := Get(ctx, srv.Client(), srv.URL+"/big", 100); !errors.Is(err, ErrTooLarge) {
		t.Errorf("101 bytes with a limit of 100: %v", err)
	}
	if _, err := Get(ctx, srv.Client(), srv.URL+"/missing", 100); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing file: %v", err)
	}
}

func TestIsURL(t *testing.T) {
	for name, want := range map[string]bool{"https://x/g.yaml": true, "http://x": true, "graph.yaml": false, "example:bookinfo": false, "ftp://x": false} {
		if IsURL(name) != want {
			t.Errorf("IsURL(%q) = %v", name, !want)
		}
	}
}
