package cmd

import (
	"io"
	"os"

	"github.com/mattn/go-isatty"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
	"github.com/meshinsight/kubectl-meshinsight/pkg/printers"
)

// notices is where predict's notes about its inputs go (which profile was
// used): stderr, or nowhere with --quiet.
func (o *PredictOptions) notices() io.Writer {
	if o.Quiet {
		return io.Discard
	}
	return o.ErrOut
}

// shown are the messages a report keeps: all of them, or with --quiet only
// the warnings (an Info message is an expected assumption).
func (o *PredictOptions) shown(msgs []diag.Message) []diag.Message {
	if !o.Quiet {
		return msgs
	}
	var out []diag.Message
	for _, m := range msgs {
		if m.Severity != diag.Info {
			out = append(out, m)
		}
	}
	return out
}

// print writes the report to out as the output flags ask: sorted
// (--sort-by), then through a template (-o jsonpath=…, -o go-template=…),
// as edge names (-o name), edge rows only (--no-headers) or in full.
func (o *PredictOptions) print(out io.Writer, r *predict.Report) error {
	if o.SortBy != "" {
		if err := predict.Sort(r, o.SortBy); err != nil {
			return err
		}
	}
	if o.colour() {
		c := printers.NewWarningColour(out)
		defer c.Flush()
		out = c
	}
	switch {
	case o.template != nil:
		return o.template.Print(out, r)
	case o.names:
		return printers.PrintNames(out, r)
	case o.NoHeaders:
		return printers.PrintEdgeRows(out, r, o.format == printers.Wide, true)
	}
	return printers.Print(out, r, o.format)
}

// colour reports whether warnings are coloured: table or wide output to a
// terminal, unless NO_COLOR is set (https://no-color.org).
func (o *PredictOptions) colour() bool {
	if o.names || o.template != nil || (o.format != printers.Table && o.format != printers.Wide) {
		return false
	}
	if _, set := os.LookupEnv("NO_COLOR"); set {
		return false
	}
	f, ok := o.Out.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}
