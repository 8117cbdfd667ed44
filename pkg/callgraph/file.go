package callgraph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/meshinsight/kubectl-meshinsight/pkg/inputfile"
)

// MaxFileBytes bounds what ReadFile and Parse accept, so a wrong path (a
// disk image, a log, /dev/zero) fails fast instead of exhausting memory.
const MaxFileBytes = 64 << 20

// ReadFile reads and parses a call-graph file (YAML or JSON); it refuses
// anything but a regular file of at most MaxFileBytes.
func ReadFile(path string) (*Graph, error) {
	data, err := inputfile.ReadFile(path, "call graph", MaxFileBytes)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes a call graph from YAML or JSON and validates it. name labels errors
// (usually the file path). Every error names the line and field concerned.
//
// Valid input is decoded in one pass (encoding/json for JSON, which is fast on
// large generated graphs); only when something is wrong is the document parsed again
// into a node tree to locate each problem.
func Parse(name string, data []byte) (*Graph, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%s: file is %d bytes, more than the %d a call graph may have", name, len(data), MaxFileBytes)
	}
	var g Graph
	if decodeErr := decode(data, &g); decodeErr == nil {
		if Validate(&g) == nil {
			return &g, nil
		}
	}
	return nil, locate(name, data)
}

// decode decodes strictly (unknown fields are errors) in one pass.
func decode(data []byte, g *Graph) error {
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(g); err != nil {
			return err
		}
		if dec.More() {
			return errors.New("trailing data after the JSON document")
		}
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(g)
}

// locate explains why data is not a valid graph, with lines and field paths.
func locate(name string, data []byte) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return fmt.Errorf("%s: empty call graph: expected apiVersion %s, kind %s, workloads and edges", name, APIVersion, Kind)
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return &ValidationError{File: name, Problems: []Problem{{Line: doc.Line, Column: doc.Column,
			Message: "a call graph must be a mapping with apiVersion, kind, workloads and edges"}}}
	}
	pos := positions(doc)
	var g Graph
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&g); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return typeErrors(name, te, pos)
		}
		return fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	err := Validate(&g)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		// The fast path disagreed with the located one (e.g. trailing JSON data).
		var fast Graph
		if derr := decode(data, &fast); derr != nil {
			return fmt.Errorf("%s: %w: %w", name, ErrInvalid, derr)
		}
		return fmt.Errorf("%s: %w", name, ErrInvalid)
	}
	ve.File = name
	for i := range ve.Problems {
		ve.Problems[i].Line, ve.Problems[i].Column = pos.locate(ve.Problems[i].Path)
	}
	sort.SliceStable(ve.Problems, func(i, j int) bool { return ve.Problems[i].Line < ve.Problems[j].Line })
	return ve
}

// Marshal encodes g as YAML (format "yaml") or indented JSON (format "json").
func Marshal(g *Graph, format string) ([]byte, error) {
	switch format {
	case "json":
		b, err := json.MarshalIndent(g, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encoding call graph as JSON: %w", err)
		}
		return append(b, '\n'), nil
	case "yaml", "":
		b, err := sigsyaml.Marshal(g)
		if err != nil {
			return nil, fmt.Errorf("encoding call graph as YAML: %w", err)
		}
		return b, nil
	default:
		return nil, fmt.Errorf("unknown call-graph format %q (want yaml or json)", format)
	}
}

// position is where a field's key (or a sequence item) stands in the file.
type position struct{ line, column int }

// positionIndex maps field paths ("edges[2].protocol") to their place in the file,
// and lines back to paths.
type positionIndex map[string]position

func positions(doc *yaml.Node) positionIndex {
	idx := positionIndex{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				idx[p] = position{k.Line, k.Column}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, item := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				idx[p] = position{item.Line, item.Column}
				walk(item, p)
			}
		}
	}
	walk(doc, "")
	return idx
}

// locate returns the position of path, or of its nearest ancestor present in the file.
func (idx positionIndex) locate(path string) (line, column int) {
	for p := path; p != ""; {
		if at, ok := idx[p]; ok {
			return at.line, at.column
		}
		cut := strings.LastIndexAny(p, ".[")
		if cut <= 0 {
			break
		}
		p = p[:cut]
	}
	return 0, 0
}

// pathAt returns the deepest path whose key stands on line, for type errors, which
// yaml reports by line only.
func (idx positionIndex) pathAt(line int) string {
	best := ""
	for p, at := range idx {
		if at.line == line && len(p) > len(best) {
			best = p
		}
	}
	return best
}

var (
	reUnknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)
	reWrongType    = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
	reLine         = regexp.MustCompile(`^line (\d+): (.*)$`)
)

// typeErrors turns yaml's decoding errors into Problems with field paths.
func typeErrors(name string, te *yaml.TypeError, pos positionIndex) error {
	ve := &ValidationError{File: name}
	for _, msg := range te.Errors {
		p := Problem{Message: msg}
		if m := reUnknownField.FindStringSubmatch(msg); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Path = pos.pathAt(p.Line)
			p.Message = fmt.Sprintf("unknown field %q", m[2])
		} else if m := reWrongType.FindStringSubmatch(msg); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Path = pos.pathAt(p.Line)
			p.Message = fmt.Sprintf("wrong type: got %s %q, want %s", m[2], m[3], friendlyType(m[4]))
		} else if m := reLine.FindStringSubmatch(msg); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Path = pos.pathAt(p.Line)
			p.Message = m[2]
		}
		if p.Path != "" {
			_, p.Column = pos.locate(p.Path)
		}
		ve.Problems = append(ve.Problems, p)
	}
	return ve
}

func friendlyType(goType string) string {
	switch strings.TrimPrefix(goType, "*") {
	case "float64":
		return "a number"
	case "int":
		return "an integer"
	case "bool":
		return "true or false"
	case "string", "dataplane.Mode", "dataplane.Protocol":
		return "a string"
	case "[]string":
		return "a list of strings"
	case "[]callgraph.Workload", "[]callgraph.Edge", "[]callgraph.Waypoint":
		return "a list"
	default:
		return "a mapping"
	}
}
