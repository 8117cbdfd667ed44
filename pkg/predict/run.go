package predict

import (
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
	// Messages from building the graph (e.g. reading the cluster) are reported with
	// the prediction's own.
	Messages []diag.Message
}

// Run predicts the baseline and, if asked, the variant, and gathers every
// assumption behind them.
func Run(in Input) (*Report, error) {
	if in.FanOut == "" {
		in.FanOut = Sequential
	}
	var notes diag.List
	notes.AddAll(in.Messages)
	notes.AddAll(in.Graph.Assumptions)
	if in.Profile.Metadata.Reference {
		notes.Add(diag.New(diag.ReferenceProfile, in.Profile.Metadata.Name,
			"predictions use the embedded reference profile built from published Istio figures"))
	}
	r := &Report{
		APIVersion: ReportAPIVersion,
		Kind:       ReportKind,
		Graph:      in.GraphName,
		Profile:    ProfileInfo{Name: in.Profile.Metadata.Name, Source: in.ProfileSource, Reference: in.Profile.Metadata.Reference},
		FanOut:     in.FanOut,
	}
	base, err := Predict(in.Graph, in.Profile, Options{FanOut: in.FanOut, NodeProfiles: in.NodeProfiles}, &notes)
	if err != nil {
		return nil, err
	}
	r.Baseline = *base
	if len(in.WhatIf) > 0 || len(in.Speedups) > 0 {
		for _, w := range in.WhatIf {
			r.WhatIf = append(r.WhatIf, w.Raw)
		}
		for _, c := range profile.Components {
			if f, ok := in.Speedups[c]; ok {
				r.WhatIf = append(r.WhatIf, "speedup "+string(c)+"="+strconv.FormatFloat(f, 'g', -1, 64))
			}
		}
		variant, err := Predict(Apply(in.Graph, in.WhatIf, &notes), in.Profile, Options{FanOut: in.FanOut, Speedups: in.Speedups, NodeProfiles: in.NodeProfiles}, &notes)
		if err != nil {
			return nil, err
		}
		r.Variant = variant
	}
	r.Messages = notes.Sorted()
	return r, nil
}
