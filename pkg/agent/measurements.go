package agent

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/meshinsight/kubectl-meshinsight/pkg/inputfile"
)

// maxMeasurementsBytes bounds a measurements file read back: a full matrix
// of cells is well under a megabyte.
const maxMeasurementsBytes = 256 << 20

// WriteMeasurements writes a run's raw cells to path as indented JSON: the
// file `profile --measurements` and validate's measurements.json hold, and
// that `fit` reads back (ReadMeasurements).
func WriteMeasurements(path string, ms []Measurement) error {
	data, err := json.MarshalIndent(ms, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the measurements: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the measurements: %w", err)
	}
	return nil
}

// ReadMeasurements reads the cells WriteMeasurements wrote to path.
func ReadMeasurements(path string) ([]Measurement, error) {
	data, err := inputfile.ReadFile(path, "measurements", maxMeasurementsBytes)
	if err != nil {
		return nil, err
	}
	var ms []Measurement
	if err := json.Unmarshal(data, &ms); err != nil {
		return nil, fmt.Errorf("decoding the measurements in %s: %w", path, err)
	}
	return ms, nil
}
