package predict

import (
	"fmt"
	"slices"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// farBeyond is how many times the largest supported message size a size
// must exceed for its figures to be warned about (MI0032) rather than noted
// (MI0010): the linear models were fitted (or published) far below it.
const farBeyond = 10

// beyond collects the edges whose messages exceed one profile's sizes.
type beyond struct {
	names []string // the first few, with their size
	count int
}

func (b *beyond) add(name string, bytes float64) {
	if b.count < 3 {
		b.names = append(b.names, fmt.Sprintf("%s (%.0f B)", name, bytes))
	}
	b.count++
}

func (b *beyond) String() string {
	s := strings.Join(b.names, ", ")
	if b.count > len(b.names) {
		s += fmt.Sprintf(" and %d more", b.count-len(b.names))
	}
	return s
}

// noteExtrapolation reports what the profiles do not support, one message
// per profile (and per mode): edges whose messages are larger than the
// largest size the profile measured or cites (MI0010; MI0032 when more than
// farBeyond times larger), and proxies of a mode the profile has no rate
// factors for, whose CPU per request is then the same at every rate
// (MI0008). Rates outside a mode's measured rates are reported by
// finishRates.
func (pt *proxyTable) noteExtrapolation(g *callgraph.Resolved, trav [][]traversal, notes *diag.List) {
	type key struct {
		prof *profile.Profile
		far  bool
	}
	sizes := map[key]*beyond{}
	var order []key
	for i := range g.Edges {
		e := &g.Edges[i]
		bytes := max(e.RequestBytes, e.ResponseBytes)
		var seen [4]*profile.Profile // a call crosses at most four proxy legs
		for j, t := range trav[i] {
			p := pt.rows[t.proxy].prof
			limit := p.SupportedBytes()
			if j < len(seen) {
				seen[j] = p
			}
			if limit <= 0 || bytes <= limit || slices.Contains(seen[:min(j, len(seen))], p) {
				continue
			}
			k := key{p, bytes > farBeyond*limit}
			if sizes[k] == nil {
				sizes[k] = &beyond{}
				order = append(order, k)
			}
			sizes[k].add(e.Name(), bytes)
		}
	}
	for _, k := range order {
		b, limit := sizes[k], k.prof.SupportedBytes()
		if k.far {
			notes.Add(diag.New(diag.SizeFarOutsideProfile, k.prof.Metadata.Name,
				"%d edge(s) carry messages more than %d× the largest size the profile supports (%.0f B): %s; their figures are linear extrapolations: profile those sizes (kubectl meshinsight profile --sizes) before acting on them",
				b.count, farBeyond, limit, b))
			continue
		}
		notes.Add(diag.New(diag.SizeOutsideProfile, k.prof.Metadata.Name,
			"%d edge(s) carry messages beyond the largest size the profile supports (%.0f B): %s; its models were extrapolated linearly",
			b.count, limit, b))
	}
	pt.noteMissingRateFactors(notes)
}

// noteMissingRateFactors reports the proxies of modes their profile has no
// rate factors for.
func (pt *proxyTable) noteMissingRateFactors(notes *diag.List) {
	type key struct {
		prof *profile.Profile
		mode dataplane.Mode
	}
	owners := map[key][]string{}
	var order []key
	for i := range pt.rows {
		r := &pt.rows[i]
		if pt.perReplica(r) <= 0 || r.prof.HasRateFactors(r.mode) {
			continue
		}
		k := key{r.prof, r.mode}
		if owners[k] == nil {
			order = append(order, k)
		}
		owners[k] = append(owners[k], r.owner)
	}
	for _, k := range order {
		notes.Add(diag.New(diag.RateOutsideProfile, string(k.mode)+" proxies",
			"profile %q has no rate factors for %s proxies, so their CPU per request is the same at every rate: %s",
			k.prof.Metadata.Name, k.mode, abbreviate(owners[k])))
	}
}
