// Package floatlist is a command-line flag holding a comma-separated list
// of numbers. pflag's own float64Slice prints its default as
// [500.000000,2000.000000] and an empty one as (default []); this one
// prints 500,2000 and nothing for an empty default, as the int flags do.
package floatlist

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Value is a pflag.Value over a []float64; the first Set replaces the
// default, later ones append (as pflag's slices do with repeated flags).
type Value struct {
	p       *[]float64
	changed bool
}

// Var defines a flag name on f whose numbers are stored in p, starting
// from value.
func Var(f *pflag.FlagSet, p *[]float64, name string, value []float64, usage string) {
	*p = value
	f.Var(&Value{p: p}, name, usage)
}

// String lists the numbers, shortest form, comma-separated: 500,2000.
func (v *Value) String() string {
	if v.p == nil {
		return ""
	}
	parts := make([]string, len(*v.p))
	for i, x := range *v.p {
		parts[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

// Set parses a comma-separated list of numbers.
func (v *Value) Set(s string) error {
	var out []float64
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		x, err := strconv.ParseFloat(part, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", part)
		}
		out = append(out, x)
	}
	if v.changed {
		out = append(*v.p, out...)
	}
	*v.p, v.changed = out, true
	return nil
}

// Type names the flag's argument in help: numbers.
func (v *Value) Type() string { return "numbers" }
