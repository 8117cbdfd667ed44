package printers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The YAML writer walks a report by reflection and writes it directly, in
// the block style sigs.k8s.io/yaml (yaml.v2) gives a report: the JSON field
// names, keys in sorted order, sequences at their key's indentation. The
// library's route, JSON text parsed back into generic maps and re-encoded,
// took 45 s and gigabytes for 100,000 edges; this takes about a second.
// The document decodes to exactly the data sigs.k8s.io/yaml's would
// (tests compare them); spelling differs only where YAML allows a choice:
// strings that cannot stay plain are double-quoted and never folded, and
// numbers are written as yaml.v2 writes them.

// yamlWriter writes one YAML document to w, which buffers.
type yamlWriter struct {
	w   io.Writer
	err error
	b   []byte // the line being built
}

// flush writes the line built so far.
func (y *yamlWriter) flush() {
	if y.err == nil && len(y.b) > 0 {
		_, y.err = y.w.Write(y.b)
	}
	y.b = y.b[:0]
}

// yamlKind is how a value is laid out.
type yamlKind int

const (
	yamlScalar yamlKind = iota
	yamlMapping
	yamlSequence
)

// entry is one key of a mapping.
type entry struct {
	key   string
	value reflect.Value
}

// shape resolves v (through pointers, interfaces and JSON marshalers) to
// what is written: a scalar's text, a mapping's entries in order, or a
// sequence.
func (y *yamlWriter) shape(v reflect.Value) (kind yamlKind, scalar string, entries []entry, seq reflect.Value, err error) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return yamlScalar, "null", nil, seq, nil
		}
		if v.Kind() == reflect.Pointer && hasMarshaler(v) {
			break
		}
		v = v.Elem()
	}
	if v.Type() == reflect.TypeFor[json.Number]() {
		return yamlScalar, v.String(), nil, seq, nil
	}
	if hasMarshaler(v) {
		return y.shapeOfJSON(v)
	}
	switch v.Kind() {
	case reflect.Struct:
		fields, ok := jsonFields(v)
		if !ok { // embedded fields
			return y.shapeOfJSON(v)
		}
		entries = make([]entry, len(fields))
		for i, f := range fields {
			entries[i] = entry{f.name, f.value}
		}
		slices.SortStableFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
		return yamlMapping, "", entries, seq, nil
	case reflect.Map:
		if v.IsNil() {
			return yamlScalar, "null", nil, seq, nil
		}
		if v.Type().Key().Kind() != reflect.String {
			return 0, "", nil, seq, fmt.Errorf("cannot write a map with %s keys as YAML", v.Type().Key())
		}
		for it := v.MapRange(); it.Next(); {
			entries = append(entries, entry{it.Key().String(), it.Value()})
		}
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
		return yamlMapping, "", entries, seq, nil
	case reflect.Slice:
		if v.IsNil() {
			return yamlScalar, "null", nil, seq, nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 { // JSON writes bytes as base64
			b, err := json.Marshal(v.Interface())
			if err != nil {
				return 0, "", nil, seq, err
			}
			s, _ := strconv.Unquote(string(b))
			return yamlScalar, yamlString(s), nil, seq, nil
		}
		return yamlSequence, "", nil, v, nil
	case reflect.Array:
		return yamlSequence, "", nil, v, nil
	case reflect.String:
		return yamlScalar, yamlString(v.String()), nil, seq, nil
	case reflect.Bool:
		return yamlScalar, strconv.FormatBool(v.Bool()), nil, seq, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return yamlScalar, strconv.FormatInt(v.Int(), 10), nil, seq, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return yamlScalar, strconv.FormatUint(v.Uint(), 10), nil, seq, nil
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, "", nil, seq, fmt.Errorf("unsupported value: %v", f)
		}
		return yamlScalar, yamlFloat(f, v.Type().Bits()), nil, seq, nil
	}
	return 0, "", nil, seq, fmt.Errorf("cannot write a %s as YAML", v.Type())
}

// shapeOfJSON is the shape of the JSON v marshals to: for values that
// marshal themselves, and structs with embedded fields.
func (y *yamlWriter) shapeOfJSON(v reflect.Value) (yamlKind, string, []entry, reflect.Value, error) {
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return 0, "", nil, reflect.Value{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return 0, "", nil, reflect.Value{}, err
	}
	return y.shape(reflect.ValueOf(&generic).Elem())
}

// empty is the flow form of an empty mapping or sequence, or "".
func empty(kind yamlKind, entries []entry, seq reflect.Value) string {
	switch {
	case kind == yamlMapping && len(entries) == 0:
		return "{}"
	case kind == yamlSequence && seq.Len() == 0:
		return "[]"
	}
	return ""
}

// mapping writes entries, the first line after first (already indented),
// the others at indent.
func (y *yamlWriter) mapping(entries []entry, indent, first string) {
	for i, e := range entries {
		if y.err != nil {
			return
		}
		if i == 0 {
			y.b = append(y.b, first...)
		} else {
			y.b = append(y.b, indent...)
		}
		y.b = append(y.b, yamlString(e.key)...)
		y.b = append(y.b, ':')
		kind, scalar, inner, seq, err := y.shape(e.value)
		if err != nil {
			y.err = err
			return
		}
		if flow := empty(kind, inner, seq); flow != "" {
			scalar, kind = flow, yamlScalar
		}
		switch kind {
		case yamlScalar:
			y.b = append(y.b, ' ')
			y.b = append(y.b, scalar...)
			y.b = append(y.b, '\n')
			y.flush()
		case yamlMapping:
			y.b = append(y.b, '\n')
			y.flush()
			y.mapping(inner, indent+"  ", indent+"  ")
		case yamlSequence:
			y.b = append(y.b, '\n')
			y.flush()
			y.list(seq, indent)
		}
	}
}

// list writes a sequence that is a mapping's value; a long one (the edges)
// is encoded on every CPU (see inParallel).
func (y *yamlWriter) list(seq reflect.Value, indent string) {
	if seq.Len() <= listChunk || y.err != nil {
		y.sequence(seq, 0, seq.Len(), indent, indent)
		return
	}
	y.err = inParallel(seq.Len(), func(from, to int, buf []byte) ([]byte, error) {
		chunk := &yamlWriter{w: (*appender)(&buf)}
		chunk.sequence(seq, from, to, indent, indent)
		return buf, chunk.err
	}, y.w)
}

// appender is an io.Writer that appends to a byte slice.
type appender []byte

func (a *appender) Write(p []byte) (int, error) {
	*a = append(*a, p...)
	return len(p), nil
}

// sequence writes the items from to to of seq, the first after first, the
// others at indent.
func (y *yamlWriter) sequence(seq reflect.Value, from, to int, indent, first string) {
	for i := from; i < to; i++ {
		if y.err != nil {
			return
		}
		prefix := indent + "- "
		if i == from {
			prefix = first + "- "
		}
		kind, scalar, inner, sub, err := y.shape(seq.Index(i))
		if err != nil {
			y.err = err
			return
		}
		if flow := empty(kind, inner, sub); flow != "" {
			scalar, kind = flow, yamlScalar
		}
		switch kind {
		case yamlScalar:
			y.b = append(y.b, prefix...)
			y.b = append(y.b, scalar...)
			y.b = append(y.b, '\n')
			y.flush()
		case yamlMapping:
			y.mapping(inner, indent+"  ", prefix)
		case yamlSequence:
			y.sequence(sub, 0, sub.Len(), indent+"  ", prefix)
		}
	}
}

// printYAML writes any report as YAML, with the JSON field names.
func printYAML(w io.Writer, r any) error {
	y := &yamlWriter{w: w}
	kind, scalar, entries, seq, err := y.shape(reflect.ValueOf(r))
	if err != nil {
		return fmt.Errorf("encoding report as YAML: %w", err)
	}
	if flow := empty(kind, entries, seq); flow != "" {
		scalar, kind = flow, yamlScalar
	}
	switch kind {
	case yamlScalar:
		y.b = append(y.b, scalar+"\n"...)
		y.flush()
	case yamlMapping:
		y.mapping(entries, "", "")
	case yamlSequence:
		y.list(seq, "")
	}
	if y.err != nil {
		return fmt.Errorf("encoding report as YAML: %w", y.err)
	}
	return nil
}

// yamlFloat writes a number as yaml.v2 writes the float64 JSON gives it: a
// whole number below 10¹⁸ as an integer, others in the shortest form.
func yamlFloat(f float64, bits int) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e18 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

// yamlBoolsAndNull are the plain words YAML 1.1 reads as booleans or null
// (compared in lower case).
var yamlBoolsAndNull = map[string]bool{"y": true, "yes": true, "n": true, "no": true, "true": true, "false": true,
	"on": true, "off": true, "null": true}

// yamlString writes s plain when that is unambiguous, else double-quoted.
func yamlString(s string) string {
	if plainSafe(s) {
		return s
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...) // as encoding/json writes invalid UTF-8
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x2028 || r == 0x2029 || r == 0xfeff || r == 0xfffe || r == 0xffff:
			b = fmt.Appendf(b, `\u%04x`, r) // not printable in YAML, or a line break
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return string(append(b, '"'))
}

// plainSafe reports whether s reads back as the same string written plain:
// it starts with a letter, '_' or '/', holds only letters, digits, spaces
// and punctuation that means nothing inside a plain scalar (a ':' not
// before a space, a '#' not after one), does not end in a space or ':', and
// is not a YAML 1.1 boolean or null.
func plainSafe(s string) bool {
	if s == "" || s[len(s)-1] == ' ' || s[len(s)-1] == ':' {
		return false
	}
	c := s[0]
	if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '/') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9':
		case strings.IndexByte(" _./-()>+;=<~,'\"!?%&*@$^", c) >= 0:
		case c == ':' && s[i+1] != ' ':
		case c == '#' && s[i-1] != ' ':
		default:
			return false
		}
	}
	return len(s) > 5 || !yamlBoolsAndNull[strings.ToLower(s)]
}
