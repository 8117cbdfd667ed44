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

// node is what a value is written as: a scalar's text, a mapping's entries
// in order, or a sequence.
type node struct {
	kind    yamlKind
	scalar  string
	entries []entry
	seq     reflect.Value
}

// scalar is a node written on its line.
func scalar(s string) node { return node{kind: yamlScalar, scalar: s} }

// shape resolves v, through pointers, interfaces and JSON marshalers.
func shape(v reflect.Value) (node, error) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return scalar("null"), nil
		}
		if v.Kind() == reflect.Pointer && hasMarshaler(v) {
			break
		}
		v = v.Elem()
	}
	if v.Type() == reflect.TypeFor[json.Number]() {
		return scalar(v.String()), nil
	}
	if hasMarshaler(v) {
		return shapeOfJSON(v)
	}
	switch v.Kind() {
	case reflect.Struct:
		fields, ok := jsonFields(v)
		if !ok { // embedded fields
			return shapeOfJSON(v)
		}
		n := node{kind: yamlMapping, entries: make([]entry, len(fields))}
		for i, f := range fields {
			n.entries[i] = entry{f.name, f.value}
		}
		slices.SortStableFunc(n.entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
		return n, nil
	case reflect.Map:
		if v.IsNil() {
			return scalar("null"), nil
		}
		if v.Type().Key().Kind() != reflect.String {
			return node{}, fmt.Errorf("cannot write a map with %s keys as YAML", v.Type().Key())
		}
		n := node{kind: yamlMapping}
		for it := v.MapRange(); it.Next(); {
			n.entries = append(n.entries, entry{it.Key().String(), it.Value()})
		}
		slices.SortFunc(n.entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
		return n, nil
	case reflect.Slice:
		if v.IsNil() {
			return scalar("null"), nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 { // JSON writes bytes as base64
			return shapeOfJSON(v)
		}
		return node{kind: yamlSequence, seq: v}, nil
	case reflect.Array:
		return node{kind: yamlSequence, seq: v}, nil
	case reflect.String:
		return scalar(yamlString(v.String())), nil
	case reflect.Bool:
		return scalar(strconv.FormatBool(v.Bool())), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return scalar(strconv.FormatInt(v.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return scalar(strconv.FormatUint(v.Uint(), 10)), nil
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return node{}, fmt.Errorf("unsupported value: %v", f)
		}
		return scalar(yamlFloat(f, v.Type().Bits())), nil
	}
	return node{}, fmt.Errorf("cannot write a %s as YAML", v.Type())
}

// shapeOfJSON is the shape of the JSON v marshals to: for values that
// marshal themselves, structs with embedded fields and bytes.
func shapeOfJSON(v reflect.Value) (node, error) {
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return node{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return node{}, err
	}
	return shape(reflect.ValueOf(&generic).Elem())
}

// node resolves v to what is written, an empty mapping or sequence as its
// flow form on the line; false after an error, kept in y.err.
func (y *yamlWriter) node(v reflect.Value) (node, bool) {
	n, err := shape(v)
	switch {
	case err != nil:
		y.err = err
		return n, false
	case n.kind == yamlMapping && len(n.entries) == 0:
		n = scalar("{}")
	case n.kind == yamlSequence && n.seq.Len() == 0:
		n = scalar("[]")
	}
	return n, true
}

// line ends the line being built with s and writes it.
func (y *yamlWriter) line(s string) {
	y.b = append(y.b, s...)
	y.b = append(y.b, '\n')
	y.flush()
}

// value writes n, whose line so far ("- ", or nothing at the top) is in
// y.b; further lines of a mapping or sequence go at indent.
func (y *yamlWriter) value(n node, indent string) {
	switch n.kind {
	case yamlScalar:
		y.line(n.scalar)
	case yamlMapping:
		first := string(y.b)
		y.b = y.b[:0]
		y.mapping(n.entries, indent, first)
	case yamlSequence:
		first := string(y.b)
		y.b = y.b[:0]
		y.sequence(n.seq, 0, n.seq.Len(), indent, first)
	}
}

// mapping writes entries, the first line after first (the line so far),
// the others at indent.
func (y *yamlWriter) mapping(entries []entry, indent, first string) {
	for i, e := range entries {
		n, ok := y.node(e.value)
		if !ok {
			return
		}
		if i == 0 {
			y.b = append(y.b, first...)
		} else {
			y.b = append(y.b, indent...)
		}
		y.b = append(y.b, yamlString(e.key)...)
		switch n.kind {
		case yamlScalar:
			y.line(": " + n.scalar)
		case yamlMapping:
			y.line(":")
			y.mapping(n.entries, indent+"  ", indent+"  ")
		case yamlSequence:
			y.line(":")
			y.list(n.seq, indent)
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

// sequence writes the items from to to of seq, the first after first (the
// line so far), the others at indent.
func (y *yamlWriter) sequence(seq reflect.Value, from, to int, indent, first string) {
	for i := from; i < to; i++ {
		n, ok := y.node(seq.Index(i))
		if !ok {
			return
		}
		if i == from {
			y.b = append(y.b, first...)
		} else {
			y.b = append(y.b, indent...)
		}
		y.b = append(y.b, "- "...)
		y.value(n, indent+"  ")
	}
}

// printYAML writes any report as YAML, with the JSON field names.
func printYAML(w io.Writer, r any) error {
	y := &yamlWriter{w: w}
	if n, ok := y.node(reflect.ValueOf(r)); ok {
		y.value(n, "")
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
// it starts with a letter, '_', '/', "./" or "../", holds only letters, digits, spaces
// and punctuation that means nothing inside a plain scalar (a ':' not
// before a space, a '#' not after one), does not end in a space or ':', and
// is not a YAML 1.1 boolean or null.
func plainSafe(s string) bool {
	if s == "" || s[len(s)-1] == ' ' || s[len(s)-1] == ':' {
		return false
	}
	switch c := s[0]; {
	case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '/':
	case c == '.' && len(s) > 1 && (s[1] == '.' || s[1] == '/'): // a relative path
	default:
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
