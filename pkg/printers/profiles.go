package printers

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/profilestore"
)

// PrintProfiles writes stored profiles as `profile list` shows them: a
// table (name, node type, created, proxy, source), JSON or YAML (the
// entries), or name (profile/NAME per line).
func PrintProfiles(w io.Writer, entries []profilestore.Entry, format string) error {
	var buf bytes.Buffer
	switch format {
	case "json":
		if entries == nil {
			entries = []profilestore.Entry{}
		}
		if err := printJSON(&buf, entries); err != nil {
			return err
		}
	case "yaml":
		if entries == nil {
			entries = []profilestore.Entry{}
		}
		if err := printYAML(&buf, entries); err != nil {
			return err
		}
	case "name":
		for _, e := range entries {
			fmt.Fprintf(&buf, "profile/%s\n", e.Name)
		}
	case "table", "":
		t := &table{}
		t.header("NAME", "NODE TYPE", "CREATED", "PROXY", "SOURCE")
		for _, e := range entries {
			created := "-"
			if !e.Created.IsZero() {
				created = e.Created.UTC().Format("2006-01-02 15:04")
			}
			t.row(e.Name, orDash(e.NodeType), created, orDash(e.Proxy), e.Source)
		}
		if err := t.render(&buf); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w %q: want table, json, yaml or name", ErrUnknownFormat, format)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// PrintProfileSummary writes what `profile show` says about one stored
// profile: where it is, where it was measured, its checks, models, operating
// point and which models carry ranges.
func PrintProfileSummary(w io.Writer, e profilestore.Entry) error {
	p := e.Profile
	if p == nil {
		return fmt.Errorf("profile %q: nothing to show", e.Name)
	}
	var buf bytes.Buffer
	field := func(name, value string) { fmt.Fprintf(&buf, "%-17s %s\n", name+":", orDash(value)) }
	field("Name", e.Name)
	field("Profile", p.Metadata.Name)
	field("Stored in", e.Source+" "+e.Location)
	created := ""
	if !p.Metadata.Created.IsZero() {
		created = p.Metadata.Created.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	field("Created", created)
	if p.Metadata.Reference {
		field("Reference", "yes (published figures, not measured)")
	}
	pl := p.Provenance.Platform
	field("Node type", pl.NodeType)
	field("Mesh", strings.TrimSpace(pl.Mesh+" "+pl.MeshVersion))
	field("Proxy", strings.TrimSpace(pl.Proxy+" "+pl.ProxyVersion))
	field("Kernel", pl.Kernel)
	field("CPU", pl.CPUModel)
	field("Kubernetes", pl.Kubernetes)
	field("Method", firstSentence(p.Provenance.Method))
	if n := len(p.Provenance.Sources); n > 0 {
		field("Sources", plural(n, "cited source"))
	}
	if c := p.Provenance.Checks; c != nil {
		field("Checks", fmt.Sprintf("%d cells, %d kept up, %d with the mesh slower; eBPF vs schedstat off by %s (median), %s (worst)",
			c.Cells, c.KeptUp, c.MeshSlower, percent(c.SchedstatAgreementMedian), percent(c.SchedstatAgreementWorst)))
	} else {
		field("Checks", "")
	}
	ranges := 0
	for _, m := range p.Models {
		if m.Range != nil {
			ranges++
		}
	}
	field("Models", fmt.Sprintf("%d (%d with ranges)", len(p.Models), ranges))
	if op := p.OperatingPoint; op != nil {
		field("Operating point", fmt.Sprintf("%s req/s, %s", rate(op.RequestsPerSecond), plural(op.ProxyThreads, "proxy thread")))
	} else {
		field("Operating point", "")
	}
	field("Rate factors", fmt.Sprintf("%d CPU, %d latency curves", len(p.RateFactors), len(p.LatencyRateFactors)))
	_, err := w.Write(buf.Bytes())
	return err
}

// firstSentence cuts a long provenance text after its first sentence; -o
// yaml shows all of it.
func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1] + " (…)"
	}
	return s
}
