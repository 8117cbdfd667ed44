package printers

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	sigsyaml "sigs.k8s.io/yaml"
)

// The JSON and YAML encoders write a report as it is held, without building
// the whole document in memory first: a report of 100,000 edges is
// hundreds of MB of text, and encoding/json followed by sigs.k8s.io/yaml's
// JSON-to-YAML round trip held several copies of it at once (gigabytes).
// The report and its scenarios are written field by field and their lists
// element by element; each element (an edge, a proxy, a message) is small
// and goes through encoding/json and sigs.k8s.io/yaml as before, so that the
// output is byte for byte what json.MarshalIndent and sigsyaml.Marshal of
// the whole report give (tests compare them).

// streamDepth is how deep structs are written field by field; deeper ones
// (an edge's totals, a path) are encoded whole.
const streamDepth = 2

// fieldOf is one struct field as encoding/json would write it.
type fieldOf struct {
	name  string
	value reflect.Value
}

// jsonFields lists the fields encoding/json writes for struct v, in order,
// or false when v is not a plain struct this encoder can walk (embedded
// fields, custom marshalers): those are encoded whole.
func jsonFields(v reflect.Value) ([]fieldOf, bool) {
	if v.Kind() != reflect.Struct || hasMarshaler(v) {
		return nil, false
	}
	t := v.Type()
	var out []fieldOf
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return nil, false
		}
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fv := v.Field(i)
		if omitted(fv, opts) {
			continue
		}
		out = append(out, fieldOf{name, fv})
	}
	return out, true
}

// omitted applies the omitempty and omitzero options.
func omitted(v reflect.Value, opts string) bool {
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "omitzero":
			if v.IsZero() {
				return true
			}
		case "omitempty":
			switch v.Kind() {
			case reflect.Slice, reflect.Map, reflect.String, reflect.Array:
				if v.Len() == 0 {
					return true
				}
			case reflect.Pointer, reflect.Interface:
				if v.IsNil() {
					return true
				}
			case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
				reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
				if v.IsZero() {
					return true
				}
			}
		}
	}
	return false
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

func hasMarshaler(v reflect.Value) bool {
	t := v.Type()
	return t.Implements(jsonMarshaler) || t.Implements(textMarshaler) ||
		reflect.PointerTo(t).Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(textMarshaler)
}

// streamable reports whether v is a list written element by element: a
// non-empty slice of anything but bytes (which JSON writes as base64).
func streamable(v reflect.Value) bool {
	return v.Kind() == reflect.Slice && v.Len() > 0 && v.Type().Elem().Kind() != reflect.Uint8
}

// jsonEncoder writes indented JSON as json.MarshalIndent(v, "", "  ").
type jsonEncoder struct {
	w   io.Writer
	err error
}

func (e *jsonEncoder) write(s string) {
	if e.err == nil {
		_, e.err = io.WriteString(e.w, s)
	}
}

func (e *jsonEncoder) whole(v reflect.Value, prefix string) {
	if e.err != nil {
		return
	}
	b, err := json.MarshalIndent(v.Interface(), prefix, "  ")
	if err != nil {
		e.err = err
		return
	}
	_, e.err = e.w.Write(b)
}

// value writes v, its first line at the current position and the others
// after prefix.
func (e *jsonEncoder) value(v reflect.Value, prefix string, depth int) {
	if v.Kind() == reflect.Pointer && !v.IsNil() && !hasMarshaler(v) {
		v = v.Elem()
	}
	if fields, ok := jsonFields(v); ok && depth < streamDepth {
		if len(fields) == 0 {
			e.write("{}")
			return
		}
		e.write("{\n")
		for i, f := range fields {
			key, _ := json.Marshal(f.name)
			e.write(prefix + "  " + string(key) + ": ")
			e.value(f.value, prefix+"  ", depth+1)
			if i < len(fields)-1 {
				e.write(",")
			}
			e.write("\n")
		}
		e.write(prefix + "}")
		return
	}
	if !streamable(v) {
		e.whole(v, prefix)
		return
	}
	e.write("[\n")
	for i := range v.Len() {
		e.write(prefix + "  ")
		e.whole(v.Index(i), prefix+"  ")
		if i < v.Len()-1 {
			e.write(",")
		}
		e.write("\n")
	}
	e.write(prefix + "]")
}

// printJSON writes any report as indented JSON, then a newline.
func printJSON(w io.Writer, r any) error {
	e := &jsonEncoder{w: w}
	e.value(reflect.ValueOf(r), "", 0)
	e.write("\n")
	if e.err != nil {
		return fmt.Errorf("encoding report as JSON: %w", e.err)
	}
	return nil
}

// yamlEncoder writes YAML as sigsyaml.Marshal does: the JSON field names,
// map keys in order, and yaml.v2's line folding. Folding depends on the
// column a value starts at, so an element is encoded inside the mappings
// that hold it (path) and only its own lines are kept.
type yamlEncoder struct {
	w   io.Writer
	err error
}

func (e *yamlEncoder) write(s string) {
	if e.err == nil {
		_, e.err = io.WriteString(e.w, s)
	}
}

// nested encodes v under the keys of path, as sigsyaml would in the whole
// document, and returns the lines of v (after the keys' lines).
func nested(path []string, v any) ([]byte, error) {
	for i := len(path) - 1; i >= 0; i-- {
		v = map[string]any{path[i]: v}
	}
	b, err := sigsyaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	for range path {
		_, b, _ = bytes.Cut(b, []byte("\n"))
	}
	return b, nil
}

// fields lists the fields of struct v (or of what v points to) to write
// one by one at depth, sorted as sigsyaml sorts map keys; false when v is
// to be encoded whole.
func (e *yamlEncoder) fields(v reflect.Value, depth int) ([]fieldOf, bool) {
	if v.Kind() == reflect.Pointer && !v.IsNil() && !hasMarshaler(v) {
		v = v.Elem()
	}
	fields, ok := jsonFields(v)
	if !ok || depth >= streamDepth || len(fields) == 0 {
		return nil, false
	}
	// yaml.v2 orders keys naturally (digits by value); keys of letters
	// only, the only ones walked, sort as strings.
	for _, f := range fields {
		if strings.ContainsFunc(f.name, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') }) {
			return nil, false
		}
	}
	sort.SliceStable(fields, func(i, j int) bool { return fields[i].name < fields[j].name })
	return fields, true
}

// mapping writes fields as the mapping at path.
func (e *yamlEncoder) mapping(fields []fieldOf, path []string) {
	indent := strings.Repeat("  ", len(path))
	for _, f := range fields {
		sub := append(path[:len(path):len(path)], f.name)
		if streamable(f.value) {
			e.write(indent + f.name + ":\n")
			for i := range f.value.Len() {
				e.whole(sub, []any{f.value.Index(i).Interface()})
			}
			continue
		}
		if inner, ok := e.fields(f.value, len(sub)); ok {
			e.write(indent + f.name + ":\n")
			e.mapping(inner, sub)
			continue
		}
		e.whole(path, map[string]any{f.name: f.value.Interface()})
	}
}

// whole writes v encoded under path, minus the lines of path's keys.
func (e *yamlEncoder) whole(path []string, v any) {
	if e.err != nil {
		return
	}
	b, err := nested(path, v)
	if err != nil {
		e.err = err
		return
	}
	_, e.err = e.w.Write(b)
}

// printYAML writes any report as YAML, with the JSON field names.
func printYAML(w io.Writer, r any) error {
	e := &yamlEncoder{w: w}
	if fields, ok := e.fields(reflect.ValueOf(r), 0); ok {
		e.mapping(fields, nil)
	} else {
		e.whole(nil, r)
	}
	if e.err != nil {
		return fmt.Errorf("encoding report as YAML: %w", e.err)
	}
	return nil
}
