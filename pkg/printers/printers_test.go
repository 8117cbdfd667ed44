package printers

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
)

var update = flag.Bool("update", false, "rewrite golden files")

// baselineReport is one namespace, three edges (grpc, tcp, plaintext http to an
// unmeshed workload), a proxy over its CPU limit and a few messages.
func baselineReport() *predict.Report {
	return &predict.Report{
		APIVersion: predict.ReportAPIVersion,
		Kind:       predict.ReportKind,
		Graph:      "shop",
		Profile:    predict.ProfileInfo{Name: "reference-istio-1.24", Source: "embedded", Reference: true},
		FanOut:     predict.Sequential,
		Baseline: predict.Scenario{
			Edges: []predict.EdgeResult{
				{
					From: "shop/frontend", To: "shop/cart", Protocol: "grpc", MTLS: true,
					ClientMode: "sidecar", ServerMode: "sidecar",
					RequestsPerSecond: 200, RequestBytes: 512, ResponseBytes: 1536,
					LatencyP50Micros: 412.3, LatencyP99Micros: 1532.7, CPUMillicores: 96.42,
					TopComponent: "parsing",
					Components: []predict.ComponentCost{
						{Component: "socket-read", LatencyP50Micros: 40.1, LatencyP99Micros: 120, CPUMillicores: 10.5},
						{Component: "parsing", LatencyP50Micros: 250, LatencyP99Micros: 900, CPUMillicores: 60.2},
						{Component: "tls", LatencyP50Micros: 122.2, LatencyP99Micros: 512.7, CPUMillicores: 25.72},
					},
				},
				{
					From: "shop/cart", To: "shop/redis", Protocol: "tcp", MTLS: true,
					ClientMode: "sidecar", ServerMode: "ambient",
					RequestsPerSecond: 800, RequestBytes: 64, ResponseBytes: 2048,
					LatencyP50Micros: 95.5, LatencyP99Micros: 310, CPUMillicores: 40.08,
					TopComponent: "tls",
					Components: []predict.ComponentCost{
						{Component: "socket-write", LatencyP50Micros: 30, LatencyP99Micros: 100, CPUMillicores: 12},
						{Component: "tls", LatencyP50Micros: 65.5, LatencyP99Micros: 210, CPUMillicores: 28.08},
					},
				},
				{
					From: "shop/frontend", To: "shop/legacy", Protocol: "http", MTLS: false,
					ClientMode: "sidecar", ServerMode: "none",
					RequestsPerSecond: 12.5, RequestBytes: 2_000_000, ResponseBytes: 300,
					LatencyP50Micros: 2600, LatencyP99Micros: 48000, CPUMillicores: 0.04,
					TopComponent: "parsing",
					Components: []predict.ComponentCost{
						{Component: "parsing", LatencyP50Micros: 2600, LatencyP99Micros: 48000, CPUMillicores: 0.04},
					},
				},
			},
			Proxies: []predict.ProxyResult{
				{Workload: "shop/cart", Kind: predict.KindSidecar, Replicas: 2, RequestsPerSecondPerReplica: 500, RateFactor: 1.1,
					CPUMillicores: 110.3, MemoryMiB: 104, MemoryMiBPerReplica: 52, CPULimitMillicores: 50, OverLimit: true,
					ProxyConfig: &callgraph.ProxyConfig{Services: 9, Clusters: 12, Endpoints: 31, Listeners: 6, Routes: 8}},
				{Workload: "shop/frontend", Kind: predict.KindSidecar, Replicas: 3, RequestsPerSecondPerReplica: 70.8333, RateFactor: 1,
					CPUMillicores: 60.1, MemoryMiB: 156},
				{Workload: "shop/redis", Kind: predict.KindZtunnel, Replicas: 1, RequestsPerSecondPerReplica: 800, RateFactor: 0.9,
					CPUMillicores: 20},
			},
			Paths: []predict.PathResult{
				{Entry: "shop/frontend", LatencyP50Micros: 3107.8, LatencyP99Micros: 49842.7, Calls: 3,
					CriticalPath: []string{"shop/frontend", "shop/legacy"}},
			},
			Totals: predict.Totals{
				Edges: 3, Workloads: 4, RequestsPerSecond: 1012.5, CPUMillicores: 136.54, MemoryMiB: 260,
				MaxPathLatencyP50Micros: 3107.8, MaxPathLatencyP99Micros: 49842.7, TopComponent: "parsing",
			},
		},
		Messages: []diag.Message{
			diag.New(diag.MTLSImpossible, "shop/frontend->shop/legacy", "mtls requested but the server has no proxy; treated as plaintext"),
			diag.New(diag.DefaultUsed, "shop/redis", "replicas not set; using 1"),
			diag.New(diag.ReferenceProfile, "reference-istio-1.24", "predictions use the embedded reference profile built from published Istio figures"),
		},
	}
}

// whatIfReport spans two namespaces and has a variant that moves shop to ambient
// and one edge to gRPC; the tcp edge to data/db is plaintext.
func whatIfReport() *predict.Report {
	return &predict.Report{
		APIVersion: predict.ReportAPIVersion,
		Kind:       predict.ReportKind,
		Graph:      "storefront",
		Profile:    predict.ProfileInfo{Name: "lab-2025-06", Source: "profiles/lab.yaml"},
		FanOut:     predict.Parallel,
		WhatIf:     []string{"mode=ambient,namespace=shop", "protocol=grpc,edge=shop/frontend->shop/catalog"},
		Baseline: predict.Scenario{
			Edges: []predict.EdgeResult{
				{
					From: "shop/frontend", To: "shop/catalog", Protocol: "http", MTLS: true,
					ClientMode: "sidecar", ServerMode: "sidecar",
					RequestsPerSecond: 150, RequestBytes: 300, ResponseBytes: 4096,
					LatencyP50Micros: 620, LatencyP99Micros: 2100, CPUMillicores: 75,
					TopComponent: "parsing",
					Components: []predict.ComponentCost{
						{Component: "parsing", LatencyP50Micros: 400, LatencyP99Micros: 1400, CPUMillicores: 45},
						{Component: "tls", LatencyP50Micros: 220, LatencyP99Micros: 700, CPUMillicores: 30},
					},
				},
				{
					From: "shop/catalog", To: "data/db", Protocol: "tcp", MTLS: false,
					ClientMode: "sidecar", ServerMode: "none",
					RequestsPerSecond: 300, RequestBytes: 128, ResponseBytes: 900,
					LatencyP50Micros: 48, LatencyP99Micros: 160, CPUMillicores: 12.6,
					TopComponent: "socket-write",
					Components: []predict.ComponentCost{
						{Component: "socket-write", LatencyP50Micros: 48, LatencyP99Micros: 160, CPUMillicores: 12.6},
					},
				},
			},
			Proxies: []predict.ProxyResult{
				{Workload: "shop/frontend", Kind: predict.KindSidecar, Replicas: 2, RequestsPerSecondPerReplica: 75, RateFactor: 1,
					CPUMillicores: 50, MemoryMiB: 104, CPULimitMillicores: 200},
				{Workload: "shop/catalog", Kind: predict.KindSidecar, Replicas: 1, RequestsPerSecondPerReplica: 450, RateFactor: 1.05,
					CPUMillicores: 37.6, MemoryMiB: 52},
			},
			Paths: []predict.PathResult{
				{Entry: "shop/frontend", LatencyP50Micros: 668, LatencyP99Micros: 2260, Calls: 2.5,
					CriticalPath: []string{"shop/frontend", "shop/catalog", "data/db"}},
			},
			Totals: predict.Totals{
				Edges: 2, Workloads: 3, RequestsPerSecond: 450, CPUMillicores: 87.6, MemoryMiB: 156,
				MaxPathLatencyP50Micros: 668, MaxPathLatencyP99Micros: 2260, TopComponent: "parsing",
			},
		},
		Variant: &predict.Scenario{
			Edges: []predict.EdgeResult{
				{
					From: "shop/frontend", To: "shop/catalog", Protocol: "grpc", MTLS: true,
					ClientMode: "ambient", ServerMode: "ambient",
					RequestsPerSecond: 150, RequestBytes: 300, ResponseBytes: 4096,
					LatencyP50Micros: 180, LatencyP99Micros: 610, CPUMillicores: 21.5,
					TopComponent: "tls",
					Components: []predict.ComponentCost{
						{Component: "socket-read", LatencyP50Micros: 60, LatencyP99Micros: 200, CPUMillicores: 6.5},
						{Component: "tls", LatencyP50Micros: 120, LatencyP99Micros: 410, CPUMillicores: 15},
					},
				},
				{
					From: "shop/catalog", To: "data/db", Protocol: "tcp", MTLS: false,
					ClientMode: "ambient", ServerMode: "none",
					RequestsPerSecond: 300, RequestBytes: 128, ResponseBytes: 900,
					LatencyP50Micros: 31, LatencyP99Micros: 95, CPUMillicores: 6.3,
					TopComponent: "socket-write",
					Components: []predict.ComponentCost{
						{Component: "socket-write", LatencyP50Micros: 31, LatencyP99Micros: 95, CPUMillicores: 6.3},
					},
				},
			},
			Proxies: []predict.ProxyResult{
				{Workload: "shop/catalog", Kind: predict.KindZtunnel, Replicas: 1, RequestsPerSecondPerReplica: 450, RateFactor: 1,
					CPUMillicores: 17.05},
				{Workload: "shop/frontend", Kind: predict.KindZtunnel, Replicas: 2, RequestsPerSecondPerReplica: 75, RateFactor: 1,
					CPUMillicores: 10.75},
			},
			Paths: []predict.PathResult{
				{Entry: "shop/frontend", LatencyP50Micros: 211, LatencyP99Micros: 705, Calls: 2.5,
					CriticalPath: []string{"shop/frontend", "shop/catalog", "data/db"}},
			},
			Totals: predict.Totals{
				Edges: 2, Workloads: 3, RequestsPerSecond: 450, CPUMillicores: 27.8,
				MaxPathLatencyP50Micros: 211, MaxPathLatencyP99Micros: 705, TopComponent: "tls",
			},
		},
		Messages: []diag.Message{
			diag.New(diag.ProfileFallback, "ambient proxy", `profile "lab-2025-06" has no model for ambient/grpc; used ambient/tcp`),
			diag.New(diag.RateOutsideProfile, "shop/catalog", "ztunnel rate 450 req/s per replica is outside the profile's measured rates; rate factor 1 used"),
		},
	}
}

func reports() map[string]*predict.Report {
	return map[string]*predict.Report{
		"baseline": baselineReport(),
		"whatif":   whatIfReport(),
		"scope":    scopeReport(),
	}
}

func TestPrintGolden(t *testing.T) {
	for name, r := range reports() {
		for _, f := range Formats {
			t.Run(name+"/"+string(f), func(t *testing.T) {
				checkGolden(t, name+"."+string(f), func(w io.Writer) error { return Print(w, r, f) })
			})
		}
	}
}

// checkGolden renders twice with print and compares the output with
// testdata/<name>.golden (rewritten with -update): the same both times, no
// trailing blanks, a final newline.
func checkGolden(t *testing.T, name string, print func(io.Writer) error) {
	t.Helper()
	var buf bytes.Buffer
	if err := print(&buf); err != nil {
		t.Fatalf("printing: %v", err)
	}
	got := buf.Bytes()
	golden := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./pkg/printers/ -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (rerun with -update if the change is intended)\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
	var again bytes.Buffer
	if err := print(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, again.Bytes()) {
		t.Errorf("output is not stable across runs")
	}
	for i, line := range strings.Split(string(got), "\n") {
		if strings.TrimRight(line, " \t") != line {
			t.Errorf("line %d has trailing blanks: %q", i+1, line)
		}
	}
	if !bytes.HasSuffix(got, []byte("\n")) {
		t.Errorf("output does not end in a newline")
	}
}

func TestPrintEmptyFormatIsTable(t *testing.T) {
	var def, table bytes.Buffer
	if err := Print(&def, baselineReport(), ""); err != nil {
		t.Fatal(err)
	}
	if err := Print(&table, baselineReport(), Table); err != nil {
		t.Fatal(err)
	}
	if def.String() != table.String() {
		t.Errorf("empty format does not print a table")
	}
}

func TestPrintTableLeavesSingleNamespaceOut(t *testing.T) {
	var buf bytes.Buffer
	if err := Print(&buf, baselineReport(), Table); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "shop/frontend -> ") {
		t.Errorf("single-namespace edges should drop the namespace:\n%s", buf.String())
	}
	buf.Reset()
	if err := Print(&buf, whatIfReport(), Table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "shop/catalog -> data/db") {
		t.Errorf("multi-namespace edges should keep the namespace:\n%s", buf.String())
	}
}

func TestPrintErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := Print(&buf, nil, Table); err == nil {
		t.Error("Print(nil report): want an error")
	}
	if err := Print(&buf, baselineReport(), "xml"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("Print(xml): got %v, want ErrUnknownFormat", err)
	}
	bad := whatIfReport()
	bad.Variant.Edges = bad.Variant.Edges[:1]
	for _, f := range []Format{Table, Dot} {
		if err := Print(&buf, bad, f); err == nil {
			t.Errorf("Print(%s) of a variant with missing edges: want an error", f)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("failed prints wrote output:\n%s", buf.String())
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in      string
		want    Format
		wantErr bool
	}{
		{"", Table, false},
		{"table", Table, false},
		{"wide", Wide, false},
		{"json", JSON, false},
		{"yaml", YAML, false},
		{"dot", Dot, false},
		{"xml", "", true},
		{"JSON", "", true},
		{" json", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFormat(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrUnknownFormat) {
					t.Fatalf("got %v, want ErrUnknownFormat", err)
				}
				for _, name := range FormatNames() {
					if !strings.Contains(err.Error(), name) {
						t.Errorf("error %q does not list %q", err, name)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestRoundTrip decodes the JSON and YAML output back into the report it came from.
func TestRoundTrip(t *testing.T) {
	decoders := map[Format]func([]byte, any) error{
		JSON: json.Unmarshal,
		YAML: func(b []byte, v any) error { return sigsyaml.UnmarshalStrict(b, v) },
	}
	for f, decode := range decoders {
		for name, r := range reports() {
			t.Run(string(f)+"/"+name, func(t *testing.T) {
				var buf bytes.Buffer
				if err := Print(&buf, r, f); err != nil {
					t.Fatal(err)
				}
				var back predict.Report
				if err := decode(buf.Bytes(), &back); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(&back, r) {
					t.Errorf("%s round trip changed the report:\ngot  %+v\nwant %+v", strings.ToUpper(string(f)), back, *r)
				}
			})
		}
	}
}
