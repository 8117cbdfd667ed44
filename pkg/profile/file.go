package profile

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/meshinsight/kubectl-meshinsight/pkg/inputfile"
)

//go:embed reference.json
var referenceJSON []byte

// ReferenceName is the name of the embedded reference profile.
const ReferenceName = "reference-istio-published"

// Reference returns the embedded reference profile, built by hack/refprofile from
// the published figures it cites (see each model's source and note).
func Reference() (*Profile, error) {
	p, err := Parse(referenceJSON)
	if err != nil {
		return nil, fmt.Errorf("embedded reference profile: %w", err)
	}
	return p, nil
}

// ErrInvalid is wrapped by errors about a profile's content.
var ErrInvalid = errors.New("invalid profile")

// Parse decodes a profile from JSON or YAML, rejecting unknown fields, and validates it.
func Parse(data []byte) (*Profile, error) {
	js, err := sigsyaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var p Profile
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return &p, nil
}

// MaxFileBytes bounds a profile file: measured profiles are tens of KiB
// (and must fit a 1 MiB ConfigMap).
const MaxFileBytes = 8 << 20

// ReadFile reads and validates a profile file; it refuses anything but a
// regular file of at most MaxFileBytes.
func ReadFile(path string) (*Profile, error) {
	data, err := inputfile.ReadFile(path, "profile", MaxFileBytes)
	if err != nil {
		return nil, err
	}
	p, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("profile %q: %w", path, err)
	}
	return p, nil
}

// Marshal encodes a profile as indented JSON.
func Marshal(p *Profile) ([]byte, error) {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding profile: %w", err)
	}
	return append(b, '\n'), nil
}

// WriteFile validates p and writes it to path, creating parent directories.
func WriteFile(path string, p *Profile) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	b, err := Marshal(p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating directory for profile %q: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing profile %q: %w", path, err)
	}
	return nil
}
