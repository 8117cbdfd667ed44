package printers

import (
	"fmt"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// groupedSubjects is how many subjects a grouped message names before "and
// N more".
const groupedSubjects = 2

// groupMessages renders messages for a table, one line per message, except
// that messages saying the same thing (code and text) about several
// subjects become one line naming how many and which: a trace file of three
// services otherwise repeats "mtls not set" on every edge.
func groupMessages(msgs []diag.Message) []string {
	type group struct {
		first    diag.Message
		subjects []string
	}
	type key struct {
		code diag.Code
		text string
	}
	var order []key
	groups := map[key]*group{}
	for _, m := range msgs {
		k := key{m.Code, m.Message}
		g, ok := groups[k]
		if !ok {
			g = &group{first: m}
			groups[k] = g
			order = append(order, k)
		}
		if m.Subject != "" {
			g.subjects = append(g.subjects, m.Subject)
		}
	}
	lines := make([]string, 0, len(order))
	for _, k := range order {
		g := groups[k]
		if len(g.subjects) < 2 {
			lines = append(lines, g.first.String())
			continue
		}
		m := g.first
		m.Subject = subjectCount(g.subjects)
		lines = append(lines, m.String())
	}
	return lines
}

// subjectCount reads e.g. "on 3 edges: a->b, b->c and 1 more".
func subjectCount(subjects []string) string {
	noun := "subjects"
	if strings.Contains(subjects[0], "->") {
		noun = "edges"
	} else if strings.Contains(subjects[0], "/") {
		noun = "workloads"
	}
	named := subjects
	more := ""
	if len(subjects) > groupedSubjects {
		named = subjects[:groupedSubjects]
		more = fmt.Sprintf(" and %d more", len(subjects)-groupedSubjects)
	}
	return fmt.Sprintf("on %d %s: %s%s", len(subjects), noun, strings.Join(named, ", "), more)
}
