package printers

import (
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"sync"
)

// The JSON encoder writes a report as it is held, without building the
// whole document in memory first: a report of 100,000 edges is hundreds of
// MB of text, and encoding/json followed by sigs.k8s.io/yaml's JSON-to-YAML
// round trip held several copies of it at once (gigabytes). The report and
// its scenarios are written field by field and their lists element by
// element; each element (an edge, a proxy, a message) is small, marshalled
// by encoding/json and indented by indentJSON, so that the output is byte
// for byte what json.MarshalIndent of the whole report gives (tests compare
// them). The YAML writer (yaml.go) walks the report the same way.

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
	buf []byte // reused for each element's indented text
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
	b, err := json.Marshal(v.Interface())
	if err != nil {
		e.err = err
		return
	}
	e.buf = indentJSON(e.buf[:0], b, prefix, "  ")
	_, e.err = e.w.Write(e.buf)
}

// indentJSON appends src, compact JSON as json.Marshal writes it, indented
// as json.MarshalIndent would indent it. It trusts src to be valid (no
// checking, no whitespace to drop) and copies the runs between structural
// bytes whole, which makes it several times faster than json.Indent:
// indenting was most of the time -o json took.
func indentJSON(dst, src []byte, prefix, indent string) []byte {
	depth := 0
	// nl is a newline and the indentation of the deepest usual level, to
	// be cut to the depth at hand.
	nl := "\n" + prefix + strings.Repeat(indent, 8)
	newline := func() {
		if n := 1 + len(prefix) + depth*len(indent); n <= len(nl) {
			dst = append(dst, nl[:n]...)
			return
		}
		dst = append(dst, nl...)
		for range depth - 8 {
			dst = append(dst, indent...)
		}
	}
	for i := 0; i < len(src); {
		j := i
		for j < len(src) && !jsonStructural[src[j]] {
			j++
		}
		dst = append(dst, src[i:j]...)
		if j == len(src) {
			break
		}
		i = j + 1
		switch c := src[j]; c {
		case '"':
			for i < len(src) && src[i] != '"' {
				if src[i] == '\\' {
					i++
				}
				i++
			}
			i++
			dst = append(dst, src[j:i]...)
		case '{', '[':
			if i < len(src) && (src[i] == '}' || src[i] == ']') {
				dst = append(dst, c, src[i])
				i++
				continue
			}
			dst = append(dst, c)
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline()
		case ':':
			dst = append(dst, ':', ' ')
		}
	}
	return dst
}

// jsonStructural marks the bytes indentJSON acts on.
var jsonStructural = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true, ',': true, ':': true}

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
	if e.err != nil {
		return
	}
	e.err = inParallel(v.Len(), func(from, to int, buf []byte) ([]byte, error) {
		var err error
		for i := from; i < to && err == nil; i++ {
			buf = append(buf, prefix+"  "...)
			var b []byte
			if b, err = json.Marshal(v.Index(i).Interface()); err == nil {
				buf = indentJSON(buf, b, prefix+"  ", "  ")
			}
			if i < v.Len()-1 {
				buf = append(buf, ',')
			}
			buf = append(buf, '\n')
		}
		return buf, err
	}, e.w)
	e.write(prefix + "]")
}

// listChunk is how many elements of a list one goroutine encodes at a time.
const listChunk = 32

// inParallel encodes the n elements of a list on every CPU, listChunk at a
// time (encode appends elements from to to to buf), and writes the encoded
// chunks to w in order, in pieces of at most writeBuffer bytes. At most two
// chunks per CPU are held at once. A list of 100,000 edges is most of a
// report, and encoding it is most of the time -o json and -o yaml take.
func inParallel(n int, encode func(from, to int, buf []byte) ([]byte, error), w io.Writer) error {
	type result struct {
		b   []byte
		err error
	}
	workers := runtime.GOMAXPROCS(0)
	pending := make(chan chan result, 2*workers)
	go func() {
		defer close(pending)
		for from := 0; from < n; from += listChunk {
			done := make(chan result, 1)
			pending <- done
			go func(from, to int) {
				buf, _ := chunkBuffers.Get().(*[]byte)
				if buf == nil {
					buf = new([]byte)
				}
				b, err := encode(from, to, (*buf)[:0])
				done <- result{b, err}
			}(from, min(from+listChunk, n))
		}
	}()
	var failed error
	for done := range pending {
		r := <-done
		if failed == nil {
			failed = r.err
		}
		for b := r.b; len(b) > 0 && failed == nil; { // after a failure: drained, so that the producer ends
			k := min(len(b), writeBuffer)
			_, failed = w.Write(b[:k])
			b = b[k:]
		}
		chunkBuffers.Put(&r.b)
	}
	return failed
}

// chunkBuffers holds the buffers of encoded chunks for reuse: growing a
// fresh one for every chunk was a good part of the encoding time.
var chunkBuffers sync.Pool

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
