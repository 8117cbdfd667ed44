package agent

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestMeasurementsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cells.json")
	ms := []Measurement{synthetic(), cell(1024, 500, 12, 7, 38)}
	if err := WriteMeasurements(path, ms); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMeasurements(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ms) {
		t.Errorf("read back %+v, want %+v", got, ms)
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMeasurements(path); err == nil {
		t.Error("a truncated file was read without an error")
	}
}
