package predict

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// Input is everything a report is computed from.
type Input struct {
	Graph     *callgraph.Resolved
	GraphName string
	Profile   *profile.Profile
	// ProfileSource says where the profile came from ("embedded", a path, ...).
	ProfileSource string
	FanOut        FanOut
	// WhatIf and Speedups define the variant; with neither there is none.
	WhatIf   []WhatIf
	Speedups map[profile.Component]float64
	// NodeProfiles are per-node-type profiles (Options.NodeProfiles).
	NodeProfiles map[string]*profile.Profile
	// Queueing adds the sidecars' queueing wait to p99 (Options.Queueing).
	Queueing bool
	// Messages from building the graph (e.g. reading the cluster) are reported with
	// the prediction's own.
	Messages []diag.Message
	// NoMemory leaves the proxies' memory out (Options.NoMemory).
	NoMemory bool
	// CompareProfile, when set, makes the variant the same graph predicted
	// with this profile instead of Profile (what-ifs and speed-ups do not
	// combine with it); CompareSource says where it came from.
	CompareProfile *profile.Profile
	CompareSource  string
}

// Run predicts the baseline and, if asked, the variant, and gathers every
// assumption behind them. A what-if whose selector picks nothing is an error.
func Run(in Input) (*Report, error) {
	if in.FanOut == "" {
		in.FanOut = Sequential
	}
	if err := CheckSelectors(in.Graph, in.WhatIf); err != nil {
		return nil, err
	}
	var notes diag.List
	notes.AddAll(in.Messages)
	notes.AddAll(in.Graph.Assumptions)
	r := &Report{APIVersion: ReportAPIVersion, Kind: ReportKind, Graph: in.GraphName, FanOut: in.FanOut}
	r.Profile, r.WhatIf = header(in.Profile, in.ProfileSource, in.WhatIf, in.Speedups, &notes)
	base, err := Predict(in.Graph, in.Profile, Options{FanOut: in.FanOut, NodeProfiles: in.NodeProfiles, Queueing: in.Queueing, NoMemory: in.NoMemory}, &notes)
	if err != nil {
		return nil, err
	}
	r.Baseline = *base
	if in.CompareProfile != nil {
		if len(in.WhatIf) > 0 || len(in.Speedups) > 0 {
			return nil, errors.New("a profile comparison cannot be combined with what-ifs or speed-ups")
		}
		variant, err := Predict(in.Graph, in.CompareProfile, Options{FanOut: in.FanOut, Queueing: in.Queueing, NoMemory: in.NoMemory}, &notes)
		if err != nil {
			return nil, fmt.Errorf("predicting with the compared profile %q: %w", in.CompareProfile.Metadata.Name, err)
		}
		r.Variant = variant
		r.WhatIf = []string{"profile " + in.CompareProfile.Metadata.Name + " (" + in.CompareSource + ")"}
	}
	if len(in.WhatIf) > 0 || len(in.Speedups) > 0 {
		variant, err := Predict(Apply(in.Graph, in.WhatIf, &notes), in.Profile, Options{FanOut: in.FanOut, Speedups: in.Speedups, NodeProfiles: in.NodeProfiles, Queueing: in.Queueing, NoMemory: in.NoMemory}, &notes)
		if err != nil {
			return nil, err
		}
		r.Variant = variant
	}
	r.Messages = notes.Sorted()
	if err := r.Check(); err != nil {
		return nil, err
	}
	return r, nil
}

// header starts every report: the profile used, the changes of the variant
// (what-ifs as given, then speed-ups in component order; nil without a
// variant), and the notice that the embedded reference profile is used.
func header(p *profile.Profile, source string, whatIfs []WhatIf, speedups map[profile.Component]float64, notes *diag.List) (ProfileInfo, []string) {
	if p.Metadata.Reference {
		notes.Add(diag.New(diag.ReferenceProfile, p.Metadata.Name,
			"predictions use the embedded reference profile built from published Istio figures"))
	}
	var changes []string
	for _, w := range whatIfs {
		changes = append(changes, w.Raw)
	}
	for _, c := range profile.Components {
		if f, ok := speedups[c]; ok {
			changes = append(changes, "speedup "+string(c)+"="+strconv.FormatFloat(f, 'g', -1, 64))
		}
	}
	return ProfileInfo{Name: p.Metadata.Name, Source: source, Reference: p.Metadata.Reference}, changes
}
