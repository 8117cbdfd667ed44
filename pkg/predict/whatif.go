package predict

import (
	"fmt"
	"slices"
	"strings"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// WhatIf is one change to a graph, limited to the edges or workloads its selector
// matches. Written as comma-separated key=value pairs, e.g.
// "mtls=off", "mode=ambient,namespace=shop", "protocol=grpc,edge=productpage->reviews",
// "scope=observed".
type WhatIf struct {
	// Raw is the text it was parsed from.
	Raw string
	// Changes (at least one).
	MTLS     *bool
	Mode     dataplane.Mode
	Protocol dataplane.Protocol
	// Scope narrows what each selected sidecar is configured with (its
	// memory): ScopeNamespace or ScopeObserved.
	Scope string
	// Selector (at most one; none selects everything).
	Edge      string
	Workload  string
	Namespace string
}

// ParseWhatIf parses a --what-if value.
func ParseWhatIf(s string) (WhatIf, error) {
	w := WhatIf{Raw: s}
	if strings.TrimSpace(s) == "" {
		return w, fmt.Errorf("empty what-if: want e.g. mtls=off or mode=ambient,namespace=shop")
	}
	selectors := 0
	for _, part := range strings.Split(s, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || value == "" {
			return w, fmt.Errorf("what-if %q: %q is not key=value", s, part)
		}
		switch key {
		case "mtls":
			switch value {
			case "on", "true":
				t := true
				w.MTLS = &t
			case "off", "false":
				f := false
				w.MTLS = &f
			default:
				return w, fmt.Errorf("what-if %q: mtls=%s: want on or off", s, value)
			}
		case "mode":
			m, err := dataplane.ParseMode(value)
			if err != nil {
				return w, fmt.Errorf("what-if %q: %w", s, err)
			}
			w.Mode = m
		case "protocol":
			p, err := dataplane.ParseProtocol(value)
			if err != nil {
				return w, fmt.Errorf("what-if %q: %w", s, err)
			}
			w.Protocol = p
		case "scope":
			if !slices.Contains(Scopes, value) {
				return w, fmt.Errorf("what-if %q: scope=%s: want %s", s, value, strings.Join(Scopes, " or "))
			}
			w.Scope = value
		case "edge":
			from, to, ok := strings.Cut(value, "->")
			if !ok || from == "" || to == "" {
				return w, fmt.Errorf("what-if %q: edge=%s: want edge=FROM->TO", s, value)
			}
			w.Edge = value
			selectors++
		case "workload":
			w.Workload = value
			selectors++
		case "namespace":
			w.Namespace = value
			selectors++
		default:
			return w, fmt.Errorf("what-if %q: unknown key %q (want mtls, mode, protocol, scope and optionally one of edge, workload, namespace)", s, key)
		}
	}
	if w.MTLS == nil && w.Mode == "" && w.Protocol == "" && w.Scope == "" {
		return w, fmt.Errorf("what-if %q: nothing to change: set mtls, mode, protocol or scope", s)
	}
	if selectors > 1 {
		return w, fmt.Errorf("what-if %q: use at most one of edge, workload, namespace", s)
	}
	if w.Mode != "" && w.Edge != "" {
		return w, fmt.Errorf("what-if %q: mode applies to workloads: select with workload= or namespace=, not edge=", s)
	}
	if w.Scope != "" && w.Edge != "" {
		return w, fmt.Errorf("what-if %q: scope applies to workloads: select with workload= or namespace=, not edge=", s)
	}
	return w, nil
}

// Apply returns a copy of g with the changes applied in order. A change whose
// selector matches nothing is reported.
func Apply(g *callgraph.Resolved, changes []WhatIf, notes *diag.List) *callgraph.Resolved {
	v := g.Clone()
	for _, w := range changes {
		matched := false
		sel := w.selection(v)
		if w.Mode != "" {
			for i := range v.Workloads {
				if sel.workload(i) {
					v.Workloads[i].SetMode(w.Mode)
					matched = true
				}
			}
			// Auto mTLS follows the new modes where the file left mtls unset.
			for i := range v.Edges {
				e := &v.Edges[i]
				if !e.MTLSExplicit {
					e.MTLSRequested = v.Workloads[e.FromIndex].Outbound.Meshed() && v.Workloads[e.ToIndex].Inbound.Meshed()
				}
			}
		}
		if w.Scope != "" && applyScope(v, w.Scope, sel) {
			matched = true
		}
		if w.MTLS != nil || w.Protocol != "" {
			for i := range v.Edges {
				e := &v.Edges[i]
				if !sel.call(*e) {
					continue
				}
				matched = true
				if w.MTLS != nil {
					e.MTLSRequested, e.MTLSExplicit = *w.MTLS, true
				}
				if w.Protocol != "" {
					e.Protocol = w.Protocol
				}
			}
		}
		if !matched {
			notes.Add(diag.New(diag.WhatIfNoMatch, w.Raw, "selector matched nothing"))
		}
	}
	return v
}

// MaxSpeedupFileBytes bounds a speed-up file: ten components and their
// factors take a few dozen bytes.
const MaxSpeedupFileBytes = 1 << 20

// ParseSpeedups reads a speed-up file: a YAML or JSON mapping from component to
// factor, e.g. {parsing: 2, tls: 1.5} (2 = twice as fast). name labels errors.
func ParseSpeedups(name string, data []byte) (map[profile.Component]float64, error) {
	var raw map[string]float64
	if err := sigsyaml.UnmarshalStrict(data, &raw); err != nil {
		return nil, fmt.Errorf("speed-up file %q: want a mapping of component to factor, e.g. parsing: 2: %w", name, err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("speed-up file %q: no components listed", name)
	}
	out := make(map[profile.Component]float64, len(raw))
	for k, f := range raw {
		c := profile.Component(k)
		if _, ok := componentIndex[c]; !ok {
			return nil, fmt.Errorf("speed-up file %q: unknown component %q (want one of %s)", name, k, componentNames())
		}
		if err := checkSpeedup(f); err != nil {
			return nil, fmt.Errorf("speed-up file %q: %s: %w", name, k, err)
		}
		out[c] = f
	}
	return out, nil
}

// MinSpeedup and MaxSpeedup bound a component's speed-up: a thousand
// times slower or faster is a what-if far past any real change, and beyond
// them a division turns figures infinite.
const (
	MinSpeedup = 1e-3
	MaxSpeedup = 1e3
)

// checkSpeedup fails unless MinSpeedup <= f <= MaxSpeedup.
func checkSpeedup(f float64) error {
	if f >= MinSpeedup && f <= MaxSpeedup {
		return nil
	}
	return fmt.Errorf("factor %v is outside %v to %v (2 means twice as fast, 0.5 twice as slow)", f, MinSpeedup, MaxSpeedup)
}

func componentNames() string {
	s := make([]string, len(profile.Components))
	for i, c := range profile.Components {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}
