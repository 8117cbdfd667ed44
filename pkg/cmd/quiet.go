package cmd

import (
	"io"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
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
