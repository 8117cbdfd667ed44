package traces

import (
	"cmp"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// maxWarningsPerProblem is how many warnings of one kind are reported one by one;
// beyond it they are summarised in one message.
const maxWarningsPerProblem = 5

var problemSummary = map[Problem]string{
	BadSpan:       "spans could not be used as given (no id, no start time, no or negative duration); skipped or counted as 0",
	DuplicateSpan: "span ids were used more than once; the first span was kept",
	MissingParent: "spans had a parent that is not in the trace; they were attached to the root (or made the root)",
	Cycle:         "parent references formed cycles; each was cut at its earliest span",
	ExtraRoot:     "traces had a second span without parent; it was left out with its children",
	ClockSkew:     "spans lay outside their parent's interval (clock skew); they were moved, or clamped, into it",
}

// WarningMessages turns trace warnings into coded messages: one per warning when
// a kind of problem is rare, else one per kind with a count and an example.
func WarningMessages(ws []Warning) []diag.Message {
	byProblem := map[Problem][]Warning{}
	var order []Problem
	for _, w := range ws {
		if _, seen := byProblem[w.Problem]; !seen {
			order = append(order, w.Problem)
		}
		byProblem[w.Problem] = append(byProblem[w.Problem], w)
	}
	var out []diag.Message
	for _, p := range order {
		list := byProblem[p]
		if len(list) <= maxWarningsPerProblem {
			for _, w := range list {
				subject := "trace " + w.TraceID
				if w.SpanID != "" {
					subject += " span " + w.SpanID
				}
				out = append(out, diag.New(diag.TraceRepaired, subject, "%s", w.Message))
			}
			continue
		}
		traces := map[string]bool{}
		for _, w := range list {
			traces[w.TraceID] = true
		}
		what := cmp.Or(problemSummary[p], string(p))
		out = append(out, diag.New(diag.TraceRepaired, string(p), "%d times in %d traces: %s (e.g. %s)", len(list), len(traces), what, list[0]))
	}
	return out
}
