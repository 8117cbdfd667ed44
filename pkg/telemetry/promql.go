package telemetry

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// reporterMatcher selects the reporters the package understands.
var reporterMatcher = labelReporter + `=~"` + strings.Join(reporterPreference, "|") + `"`

// namespaceRegex turns namespace names into an anchored-by-PromQL
// alternation whose every name is matched literally.
func namespaceRegex(namespaces []string) string {
	quoted := make([]string, len(namespaces))
	for i, ns := range namespaces {
		quoted[i] = regexp.QuoteMeta(ns)
	}
	return strings.Join(quoted, "|")
}

// promString renders s as a PromQL string literal. PromQL string literals
// follow Go's escaping rules, so strconv.Quote is exact.
func promString(s string) string { return strconv.Quote(s) }

// rateQuery builds the Kiali-style query for one metric: its per-second rate
// over window, summed by the labels that identify an edge and its reporter.
// With namespaces, an edge is kept when either end lies in one of them; as
// PromQL has no "or" between label matchers, that is two selectors joined by
// the or operator, which drops the right-hand duplicate of an edge that has
// both ends in the set. Rates of zero are dropped except for histogram sums,
// whose zero is a real mean size of zero.
func rateQuery(m metric, namespaces []string, window time.Duration) string {
	by := " by (" + strings.Join(groupLabels, ", ") + ")"
	rng := "[" + model.Duration(window).String() + "]"
	sel := func(extra string) string {
		return "sum(rate(" + seriesName[m] + "{" + reporterMatcher + extra + "}" + rng + "))" + by
	}
	var q string
	if len(namespaces) == 0 {
		q = sel("")
	} else {
		re := promString(namespaceRegex(namespaces))
		q = "(" + sel(","+labelSourceNamespace+"=~"+re) + " or " + sel(","+labelDestNamespace+"=~"+re) + ")"
	}
	if m == requestBytesSum || m == responseBytesSum {
		return q
	}
	return q + " > 0"
}
