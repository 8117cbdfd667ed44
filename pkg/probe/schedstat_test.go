package probe

import (
	"strings"
	"testing"
)

func TestParseSchedstat(t *testing.T) {
	tests := []struct {
		in      string
		want    Schedstat
		wantErr string
	}{
		{in: "2666662 287243 1\n", want: Schedstat{OnCPUNanos: 2666662, RunqWaitNanos: 287243, Timeslices: 1, Threads: 1}},
		{in: "0 0 0", want: Schedstat{Threads: 1}},
		{in: "18446744073709551615 1 2", want: Schedstat{OnCPUNanos: 1<<64 - 1, RunqWaitNanos: 1, Timeslices: 2, Threads: 1}},
		{in: "1 2", wantErr: "want 3 fields, got 2"},
		{in: "1 2 3 4", wantErr: "want 3 fields, got 4"},
		{in: "1 -2 3", wantErr: "invalid syntax"},
		{in: "", wantErr: "want 3 fields, got 0"},
	}
	for _, tt := range tests {
		got, err := parseSchedstat(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseSchedstat(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseSchedstat(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("parseSchedstat(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestReadSchedstatSumsThreads(t *testing.T) {
	got, err := readSchedstat("testdata/proc", 4242)
	if err != nil {
		t.Fatal(err)
	}
	want := Schedstat{
		OnCPUNanos:    2500000000 + 1000 + 750000000,
		RunqWaitNanos: 12000000 + 500,
		Timeslices:    40 + 3 + 12,
		Threads:       3,
	}
	if got != want {
		t.Errorf("readSchedstat = %+v, want %+v", got, want)
	}
}

func TestReadSchedstatErrors(t *testing.T) {
	for _, tt := range []struct {
		pid     int
		wantErr string
	}{
		{4300, "thread 4300: parsing schedstat"},
		{999999, "listing threads of pid 999999"},
	} {
		_, err := readSchedstat("testdata/proc", tt.pid)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("readSchedstat(%d) error = %v, want containing %q", tt.pid, err, tt.wantErr)
		}
	}
}
