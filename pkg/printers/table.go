package printers

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/safetext"
)

// overLimitMark follows a CPU figure when one replica's predicted proxy CPU
// exceeds its limit.
const overLimitMark = "!"

// view renders one report as tables.
type view struct {
	r    *predict.Report
	wide bool
	// ns is the namespace every workload is in, left out of names; "" if several.
	ns string
}

func printTable(buf io.Writer, r *predict.Report, wide bool) error {
	v := &view{r: r, wide: wide, ns: commonNamespace(r)}
	v.header(buf)
	sections := []func(io.Writer) error{v.edges, v.components, v.proxies, v.paths, v.totals}
	for _, s := range sections {
		if err := s(buf); err != nil {
			return err
		}
	}
	messages(buf, r.Header())
	return nil
}

// checkVariant makes sure the variant's edges line up with the baseline's, which
// the side-by-side tables rely on.
func checkVariant(r *predict.Report) error {
	b, w := edgesOf(&r.Baseline), edgesOf(r.Variant)
	if len(b) != len(w) {
		return fmt.Errorf("report is inconsistent: baseline has %d edges, what-if variant %d", len(b), len(w))
	}
	for i := range b {
		if b[i].From != w[i].From || b[i].To != w[i].To {
			return fmt.Errorf("report is inconsistent: edge %d is %s in the baseline but %s in the what-if variant", i, b[i].Name(), w[i].Name())
		}
	}
	return nil
}

// commonNamespace returns the namespace of every workload named in r, or "" if
// they are not all in one.
func commonNamespace(r *predict.Report) string {
	ns, ok := "", true
	see := func(id string) {
		n, _, found := strings.Cut(id, "/")
		switch {
		case !found || n == "":
			ok = false
		case ns == "":
			ns = n
		case n != ns:
			ok = false
		}
	}
	for _, sc := range scenarios(r) {
		for _, e := range edgesOf(sc) {
			see(e.From)
			see(e.To)
		}
		for _, p := range sc.Proxies {
			if p.Kind != predict.KindZtunnel { // Istio's, shared by the nodes
				see(p.Workload)
			}
		}
		for _, p := range sc.Paths {
			see(p.Entry)
			for _, w := range p.CriticalPath {
				see(w)
			}
		}
	}
	if !ok {
		return ""
	}
	return ns
}

// edgesOf lists a scenario's edges, then its ingress (requests from
// outside), which every rendering shows as edges.
func edgesOf(sc *predict.Scenario) []predict.EdgeResult {
	if len(sc.Ingress) == 0 {
		return sc.Edges
	}
	return slices.Concat(sc.Edges, sc.Ingress)
}

func scenarios(r *predict.Report) []*predict.Scenario {
	if r.Variant != nil {
		return []*predict.Scenario{&r.Baseline, r.Variant}
	}
	return []*predict.Scenario{&r.Baseline}
}

// name shortens a workload ID for display.
func (v *view) name(id string) string {
	if v.ns == "" {
		return id
	}
	return strings.TrimPrefix(id, v.ns+"/")
}

func (v *view) edgeName(e predict.EdgeResult) string {
	return v.name(e.From) + " -> " + v.name(e.To)
}

func (v *view) header(buf io.Writer) {
	r := v.r
	parts := []string{profileLabel(r.Profile)}
	if r.Graph != "" {
		parts = append(parts, "Graph: "+r.Graph)
	}
	if r.FanOut != "" {
		parts = append(parts, "Fan-out: "+string(r.FanOut))
	}
	if v.ns != "" {
		parts = append(parts, "Namespace: "+v.ns)
	}
	for i, p := range parts {
		parts[i] = safetext.Escape(p)
	}
	fmt.Fprintln(buf, joinFit(parts, "   ", Width, ""))
	if r.Variant != nil {
		whatIfLine(buf, r.Header())
	}
}

// profileLabel names the profile behind a report's figures, the start of
// every report's first line.
func profileLabel(p predict.ProfileInfo) string {
	label := "Profile: " + orDash(p.Name)
	if p.Source != "" {
		label += " (" + p.Source + ")"
	}
	return label
}

// whatIfLine lists the changes of a report's variant.
func whatIfLine(buf io.Writer, h predict.Header) {
	fmt.Fprintln(buf, safetext.Escape("What-if: "+orDash(strings.Join(h.WhatIf, "; "))))
}

// messages ends every report with the assumptions and warnings behind it.
func messages(buf io.Writer, h predict.Header) {
	if len(h.Messages) == 0 {
		return
	}
	fmt.Fprintln(buf, "\nAssumptions and warnings:")
	for _, line := range groupMessages(h.Messages) {
		fmt.Fprintln(buf, wrap("  "+safetext.Escape(line), Width, "    "))
	}
}

func (v *view) edges(buf io.Writer) error {
	base := edgesOf(&v.r.Baseline)
	fmt.Fprintln(buf, "\nEdges:")
	if len(base) == 0 {
		fmt.Fprintln(buf, "No edges.")
		return nil
	}
	t := v.table()
	if v.r.Variant == nil {
		t.header("EDGE", "PROTO", "MTLS")
		if v.wide {
			t.header("CLIENT", "SERVER")
		}
		t.header("RPS", "REQ/RESP", "+P50", "+P99", "CPU", "TOP")
		ranged := v.wide && slices.ContainsFunc(base, func(e predict.EdgeResult) bool { return e.Range != nil })
		if ranged {
			t.header("+P50 RANGE", "+P99 RANGE", "CPU RANGE")
		}
		for _, e := range base {
			row := []string{v.edgeName(e), string(e.Protocol), onOff(e.MTLS)}
			if v.wide {
				row = append(row, string(e.ClientMode), string(e.ServerMode))
			}
			row = append(row, rate(e.RequestsPerSecond), byteSize(e.RequestBytes)+"/"+byteSize(e.ResponseBytes),
				micros(e.LatencyP50Micros), micros(e.LatencyP99Micros), millicores(e.CPUMillicores), orDash(e.TopComponent))
			if ranged {
				row = append(row, interval(e.Range, latencyP50, micros), interval(e.Range, latencyP99, micros), interval(e.Range, cpuMillicores, millicores))
			}
			t.row(row...)
		}
		return t.render(buf)
	}
	t.header("EDGE", "PROTO", "MTLS")
	if v.wide {
		t.header("CLIENT", "SERVER")
	}
	t.header("+P50 BASE", "+P50 WHAT-IF", "Δ P50", "CPU BASE", "CPU WHAT-IF", "Δ CPU")
	what := edgesOf(v.r.Variant)
	for i, b := range base {
		w := what[i]
		row := []string{v.edgeName(b), change(b.Protocol, w.Protocol), change(onOff(b.MTLS), onOff(w.MTLS))}
		if v.wide {
			row = append(row, change(b.ClientMode, w.ClientMode), change(b.ServerMode, w.ServerMode))
		}
		t.row(append(row,
			micros(b.LatencyP50Micros), micros(w.LatencyP50Micros), signedMicros(w.LatencyP50Micros-b.LatencyP50Micros),
			millicores(b.CPUMillicores), millicores(w.CPUMillicores), signedMillicores(w.CPUMillicores-b.CPUMillicores))...)
	}
	return t.render(buf)
}

// components is the wide breakdown of each edge by proxy component.
func (v *view) components(buf io.Writer) error {
	base := edgesOf(&v.r.Baseline)
	if !v.wide || len(base) == 0 {
		return nil
	}
	fmt.Fprintln(buf, "\nComponents:")
	t := v.table()
	if v.r.Variant == nil {
		t.header("EDGE", "COMPONENT", "+P50", "+P99", "CPU")
		for _, e := range base {
			for _, c := range e.Components {
				t.row(v.edgeName(e), c.Component, micros(c.LatencyP50Micros), micros(c.LatencyP99Micros), millicores(c.CPUMillicores))
			}
		}
		return t.render(buf)
	}
	t.header("EDGE", "COMPONENT", "+P50 BASE", "+P50 WHAT-IF", "Δ P50", "CPU BASE", "CPU WHAT-IF", "Δ CPU")
	what := edgesOf(v.r.Variant)
	for i, b := range base {
		w := what[i]
		for _, name := range componentNames(b.Components, w.Components) {
			bc, bok := findComponent(b.Components, name)
			wc, wok := findComponent(w.Components, name)
			t.row(v.edgeName(b), name,
				present(bok, micros(bc.LatencyP50Micros)), present(wok, micros(wc.LatencyP50Micros)),
				signedMicros(wc.LatencyP50Micros-bc.LatencyP50Micros),
				present(bok, millicores(bc.CPUMillicores)), present(wok, millicores(wc.CPUMillicores)),
				signedMillicores(wc.CPUMillicores-bc.CPUMillicores))
		}
	}
	return t.render(buf)
}

// componentNames merges two component lists, in the profile's display order;
// names the profile does not know come last, in order of appearance.
func componentNames(a, b []predict.ComponentCost) []string {
	var names []string
	for _, c := range slices.Concat(a, b) {
		if !slices.Contains(names, c.Component) {
			names = append(names, c.Component)
		}
	}
	rank := func(name string) int {
		if i := slices.Index(profile.Components, profile.Component(name)); i >= 0 {
			return i
		}
		return len(profile.Components)
	}
	slices.SortStableFunc(names, func(x, y string) int { return rank(x) - rank(y) })
	return names
}

func findComponent(cs []predict.ComponentCost, name string) (predict.ComponentCost, bool) {
	for _, c := range cs {
		if c.Component == name {
			return c, true
		}
	}
	return predict.ComponentCost{}, false
}

func (v *view) proxies(buf io.Writer) error {
	scs := scenarios(v.r)
	var all []predict.ProxyResult
	for _, sc := range scs {
		all = append(all, sc.Proxies...)
	}
	if len(all) == 0 {
		return nil
	}
	fmt.Fprintln(buf, "\nProxies:")
	var t *table
	if v.r.Variant == nil {
		t = v.proxyTable(v.r.Baseline.Proxies)
	} else {
		t = v.proxyChangeTable(v.r.Baseline.Proxies, v.r.Variant.Proxies)
	}
	if err := t.render(buf); err != nil {
		return err
	}
	if slices.ContainsFunc(all, func(p predict.ProxyResult) bool { return p.OverLimit }) {
		fmt.Fprintf(buf, "%s: one replica's predicted proxy CPU is over its CPU limit\n", overLimitMark)
	}
	return nil
}

// proxyTable lists one scenario's proxies; the CPU LIMIT column only appears
// when some proxy has a limit.
func (v *view) proxyTable(ps []predict.ProxyResult) *table {
	withLimit := slices.ContainsFunc(ps, func(p predict.ProxyResult) bool { return p.CPULimitMillicores > 0 })
	t := v.table()
	t.header("WORKLOAD", "KIND", "REPLICAS", "RPS/REPLICA", "CPU", "MEMORY", "MEM/REPLICA")
	ranged := v.wide && slices.ContainsFunc(ps, func(p predict.ProxyResult) bool { return p.Range != nil })
	if v.wide {
		t.header("RATE FACTOR", "CLUSTERS", "ENDPOINTS")
	}
	if ranged {
		t.header("CPU RANGE")
	}
	if withLimit {
		t.header("CPU LIMIT")
	}
	for _, p := range ps {
		row := []string{v.name(p.Workload), string(p.Kind), fmt.Sprint(p.Replicas), rate(p.RequestsPerSecondPerReplica),
			proxyCPU(p), mebibytes(p.MemoryMiB), replicaMemory(p)}
		if v.wide {
			row = append(row, fmt.Sprintf("%.2f", p.RateFactor), configCount(p, clusters), configCount(p, endpoints))
		}
		if ranged {
			row = append(row, interval(p.Range, cpuMillicores, millicores))
		}
		if withLimit {
			row = append(row, limit(p.CPULimitMillicores))
		}
		t.row(row...)
	}
	return t
}

// proxyChangeTable sets each workload's proxy in the variant beside its proxy in
// the baseline, e.g. a sidecar that became a ztunnel share.
func (v *view) proxyChangeTable(base, what []predict.ProxyResult) *table {
	var rows [][]string
	var limits []string
	for _, k := range proxyKeys(base, what) {
		b, bok := findProxy(base, k)
		w, wok := findProxy(what, k)
		kind, replicas, lim := change(string(b.Kind), string(w.Kind)), change(fmt.Sprint(b.Replicas), fmt.Sprint(w.Replicas)),
			change(limit(b.CPULimitMillicores), limit(w.CPULimitMillicores))
		switch {
		case !wok:
			kind, replicas, lim = string(b.Kind), fmt.Sprint(b.Replicas), limit(b.CPULimitMillicores)
		case !bok:
			kind, replicas, lim = string(w.Kind), fmt.Sprint(w.Replicas), limit(w.CPULimitMillicores)
		}
		rows = append(rows, []string{v.name(k.workload), kind, replicas,
			present(bok, proxyCPU(b)), present(wok, proxyCPU(w)), signedMillicores(w.CPUMillicores - b.CPUMillicores),
			present(bok, mebibytes(b.MemoryMiB)), present(wok, mebibytes(w.MemoryMiB)), signedMebibytes(w.MemoryMiB - b.MemoryMiB),
			memoryChange(b, bok, w, wok)})
		if v.wide {
			rows[len(rows)-1] = append(rows[len(rows)-1], configChange(b, bok, w, wok, clusters), configChange(b, bok, w, wok, endpoints))
		}
		limits = append(limits, lim)
	}
	withLimit := slices.ContainsFunc(limits, func(l string) bool { return l != "-" })
	t := v.table()
	t.header("WORKLOAD", "KIND", "REPLICAS", "CPU BASE", "CPU WHAT-IF", "Δ CPU", "MEMORY BASE", "MEMORY WHAT-IF", "Δ MEMORY", "MEM/REPLICA")
	if v.wide {
		t.header("CLUSTERS", "ENDPOINTS")
	}
	if withLimit {
		t.header("CPU LIMIT")
	}
	for i, row := range rows {
		if withLimit {
			row = append(row, limits[i])
		}
		t.row(row...)
	}
	return t
}

// proxyKey pairs a workload's proxy in the baseline with its proxy in the variant,
// even when a mode change turned a sidecar into a ztunnel share. Waypoints are
// named after their namespace, so they are kept apart from workloads.
type proxyKey struct {
	workload string
	waypoint bool
}

func keyOf(p predict.ProxyResult) proxyKey {
	return proxyKey{p.Workload, p.Kind == predict.KindWaypoint}
}

// proxyKeys lists the proxies of both scenarios: the baseline's in its order, then
// those only in the variant.
func proxyKeys(base, what []predict.ProxyResult) []proxyKey {
	var keys []proxyKey
	for _, p := range slices.Concat(base, what) {
		if k := keyOf(p); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

func findProxy(ps []predict.ProxyResult, k proxyKey) (predict.ProxyResult, bool) {
	i := slices.IndexFunc(ps, func(p predict.ProxyResult) bool { return keyOf(p) == k })
	if i < 0 {
		return predict.ProxyResult{}, false
	}
	return ps[i], true
}

func proxyCPU(p predict.ProxyResult) string {
	if p.OverLimit {
		return millicores(p.CPUMillicores) + overLimitMark
	}
	return millicores(p.CPUMillicores)
}

func limit(m int) string {
	if m <= 0 {
		return "-"
	}
	return fmt.Sprintf("%dm", m)
}

func (v *view) paths(buf io.Writer) error {
	base := v.r.Baseline.Paths
	if len(base) == 0 {
		return nil
	}
	fmt.Fprintln(buf, "\nPaths:")
	t := v.table()
	if v.r.Variant == nil {
		t.header("ENTRY", "+P50", "+P99", "CALLS", "CRITICAL PATH")
		ranged := v.wide && slices.ContainsFunc(base, func(p predict.PathResult) bool { return p.Range != nil })
		if ranged {
			t.header("+P50 RANGE", "+P99 RANGE")
		}
		for _, p := range base {
			row := []string{v.name(p.Entry), micros(p.LatencyP50Micros), micros(p.LatencyP99Micros), calls(p.Calls), v.chain(p.CriticalPath)}
			if ranged {
				row = append(row, interval(p.Range, latencyP50, micros), interval(p.Range, latencyP99, micros))
			}
			t.row(row...)
		}
		return t.render(buf)
	}
	t.header("ENTRY", "+P50 BASE", "+P50 WHAT-IF", "Δ P50", "+P99 BASE", "+P99 WHAT-IF", "Δ P99", "CALLS", "CRITICAL PATH (WHAT-IF)")
	for _, b := range base {
		i := slices.IndexFunc(v.r.Variant.Paths, func(p predict.PathResult) bool { return p.Entry == b.Entry })
		if i < 0 {
			t.row(v.name(b.Entry), micros(b.LatencyP50Micros), "-", "-", micros(b.LatencyP99Micros), "-", "-", calls(b.Calls), "-")
			continue
		}
		w := v.r.Variant.Paths[i]
		t.row(v.name(b.Entry),
			micros(b.LatencyP50Micros), micros(w.LatencyP50Micros), signedMicros(w.LatencyP50Micros-b.LatencyP50Micros),
			micros(b.LatencyP99Micros), micros(w.LatencyP99Micros), signedMicros(w.LatencyP99Micros-b.LatencyP99Micros),
			calls(w.Calls), v.chain(w.CriticalPath))
	}
	return t.render(buf)
}

func (v *view) chain(ids []string) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = v.name(id)
	}
	return orDash(strings.Join(names, " > "))
}

func (v *view) totals(buf io.Writer) error {
	b := v.r.Baseline.Totals
	if v.r.Variant == nil {
		parts := []string{
			plural(b.Edges, "edge"),
			rate(b.RequestsPerSecond) + " req/s",
			"CPU " + millicores(b.CPUMillicores) + " (" + cores(b.CPUMillicores) + " cores)",
			"memory " + totalMemory(b.MemoryMiB),
			"worst path +" + micros(b.MaxPathLatencyP50Micros) + " p50 / +" + micros(b.MaxPathLatencyP99Micros) + " p99",
		}
		if b.TopComponent != "" {
			parts = append(parts, "top CPU component "+b.TopComponent)
		}
		parts[0] = "Totals: " + parts[0]
		fmt.Fprintln(buf, "\n"+joinFit(parts, ", ", Width, "  "))
		return nil
	}
	w := v.r.Variant.Totals
	fmt.Fprintf(buf, "\nTotals (%s, %s req/s):\n", plural(b.Edges, "edge"), rate(b.RequestsPerSecond))
	t := v.table()
	t.header("TOTAL", "BASE", "WHAT-IF", "Δ")
	t.row("CPU", millicores(b.CPUMillicores)+" ("+cores(b.CPUMillicores)+" cores)", millicores(w.CPUMillicores)+" ("+cores(w.CPUMillicores)+" cores)",
		signedMillicores(w.CPUMillicores-b.CPUMillicores)+percentChange(b.CPUMillicores, w.CPUMillicores))
	t.row("MEMORY", totalMemory(b.MemoryMiB), totalMemory(w.MemoryMiB), signedMebibytes(w.MemoryMiB-b.MemoryMiB)+percentChange(b.MemoryMiB, w.MemoryMiB))
	t.row("WORST PATH +P50", micros(b.MaxPathLatencyP50Micros), micros(w.MaxPathLatencyP50Micros),
		signedMicros(w.MaxPathLatencyP50Micros-b.MaxPathLatencyP50Micros)+percentChange(b.MaxPathLatencyP50Micros, w.MaxPathLatencyP50Micros))
	t.row("WORST PATH +P99", micros(b.MaxPathLatencyP99Micros), micros(w.MaxPathLatencyP99Micros),
		signedMicros(w.MaxPathLatencyP99Micros-b.MaxPathLatencyP99Micros)+percentChange(b.MaxPathLatencyP99Micros, w.MaxPathLatencyP99Micros))
	t.row("TOP CPU COMPONENT", orDash(b.TopComponent), orDash(w.TopComponent), "")
	return t.render(buf)
}

// totalMemory renders the memory of all proxies; zero means none is charged to
// workloads (per-node ztunnels only), not unknown.
func totalMemory(m float64) string {
	if m == 0 {
		return "0Mi"
	}
	return mebibytes(m)
}

func signedMebibytes(d float64) string {
	switch {
	case d > -0.5 && d < 0.5:
		return "0"
	case d > 0:
		return "+" + mebibytes(d)
	default:
		return "-" + mebibytes(-d)
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// change renders a value that a what-if may have changed: "http" or "http→grpc".
func change[T ~string](base, variant T) string {
	if base == variant {
		return string(base)
	}
	return string(base) + "→" + string(variant)
}

func present(ok bool, s string) string {
	if !ok {
		return "-"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// table collects one kubectl-style table: no borders, upper-case headers,
// left-aligned columns gap spaces apart (three when gap is 0). Every table
// of every report is rendered through it.
type table struct {
	head []string
	rows [][]string
	gap  int
	// width, when set, is what fit holds the table to.
	width int
}

func (t *table) header(cols ...string) { t.head = append(t.head, cols...) }

// row adds a row; its cells are escaped (see safetext), since names come
// from files, traces and clusters.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = safetext.Escape(c)
	}
	t.rows = append(t.rows, cells)
}

// Selectors of a figure's interval in a predict.Range.
func latencyP50(r *predict.Range) *predict.Interval    { return r.LatencyP50Micros }
func latencyP99(r *predict.Range) *predict.Interval    { return r.LatencyP99Micros }
func cpuMillicores(r *predict.Range) *predict.Interval { return r.CPUMillicores }

// interval renders one figure's range as "low–high", "-" when unknown.
func interval(r *predict.Range, figure func(*predict.Range) *predict.Interval, unit func(float64) string) string {
	if r == nil || figure(r) == nil {
		return "-"
	}
	i := figure(r)
	return unit(i.Low) + "–" + unit(i.High)
}
