package predict

import (
	"fmt"
	"slices"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// borrowAtBytes is the message size at which a measured profile is compared
// with the reference profile to scale the reference's models.
const borrowAtBytes = 1024

// borrowMissing makes sure that every proxy mode the traversals cross has
// models: a mode the profile has none of (measured profiles have no ztunnel
// or waypoint models) borrows the embedded reference profile's, scaled by
// borrow's rule, and says so. A mode that cannot be borrowed is an error
// naming the missing model: a proxy that exists never costs zero.
func (m *model) borrowMissing(trav [][]traversal) error {
	if m.prof.Metadata.Reference {
		return nil
	}
	var missing []dataplane.Mode
	for _, ts := range trav {
		for _, t := range ts {
			if !slices.Contains(missing, t.mode) && !m.hasMode(t.mode) {
				missing = append(missing, t.mode)
			}
		}
	}
	for _, mode := range missing {
		if m.borrowed[mode] != nil {
			continue
		}
		if err := m.borrow(mode); err != nil {
			return err
		}
	}
	return nil
}

// hasMode reports whether the profile has any model of mode.
func (m *model) hasMode(mode dataplane.Mode) bool {
	return slices.ContainsFunc(m.prof.Models, func(md profile.Model) bool { return md.Mode == mode })
}

// borrow takes the reference profile's models of mode, scaled by the rule:
// latency p50, latency p99 and CPU are each multiplied by the ratio of this
// profile's sidecar models to the reference's sidecar models, summed over
// every component, side and direction at 1 KiB, over the protocols and mTLS
// settings both profiles have — for a ztunnel (an L4 proxy) the tcp ones,
// for a waypoint (an Envoy like the sidecar) the L7 ones, else any. The
// ratio carries the measured platform's speed over to the borrowed proxy.
func (m *model) borrow(mode dataplane.Mode) error {
	ref, err := profile.Reference()
	if err != nil {
		return fmt.Errorf("loading the reference profile to stand in for %s models: %w", mode, err)
	}
	family := func(p dataplane.Protocol) bool { return p.L7() }
	what := "L7"
	if mode == dataplane.Ambient {
		family, what = func(p dataplane.Protocol) bool { return !p.L7() }, "tcp"
	}
	scale, ok := sidecarRatio(m.prof, ref, family)
	if !ok {
		scale, ok = sidecarRatio(m.prof, ref, func(dataplane.Protocol) bool { return true })
		what = "any protocol's"
	}
	if !ok {
		return fmt.Errorf("profile %q has no %s (%s) models and no sidecar models to scale the reference profile's by: "+
			"profile that mode, or predict with the embedded reference profile (leave out --profile)", m.prof.Metadata.Name, mode, kindOfMode(mode))
	}
	if m.borrowed == nil {
		m.borrowed = map[dataplane.Mode]*source{}
	}
	m.borrowed[mode] = &source{idx: profile.NewIndex(ref), scale: scale}
	m.notes.Add(diag.New(diag.ProfileFallback, string(kindOfMode(mode))+" proxy",
		"profile %q has no %s (%s) models; the reference profile's are used, scaled by %.3g (p50), %.3g (p99) and %.3g (CPU): "+
			"this profile's %s sidecar models over the reference's at 1 KiB", m.prof.Metadata.Name, mode, kindOfMode(mode),
		scale[0], scale[1], scale[2], what))
	return nil
}

// sidecarRatio sums, over the sidecar keys both profiles have whose
// protocol is in the family, measured ÷ reference latency p50, p99 and CPU
// at borrowAtBytes. ok is false without a common key or with a zero sum.
func sidecarRatio(measured, ref *profile.Profile, family func(dataplane.Protocol) bool) (ratio [3]float64, ok bool) {
	sum := func(p *profile.Profile, keys map[profile.Key]bool) (s [3]float64) {
		for _, md := range p.Models {
			if keys[md.Key] {
				s[0] += md.LatencyP50Micros.At(borrowAtBytes)
				s[1] += md.LatencyP99Micros.At(borrowAtBytes)
				s[2] += md.CPUMicrosPerRequest.At(borrowAtBytes)
			}
		}
		return s
	}
	refIdx, common := profile.NewIndex(ref), map[profile.Key]bool{}
	for _, md := range measured.Models {
		if md.Mode == dataplane.Sidecar && family(md.Protocol) && refIdx.Has(md.Key) {
			common[md.Key] = true
		}
	}
	if len(common) == 0 {
		return ratio, false
	}
	mine, theirs := sum(measured, common), sum(ref, common)
	for i := range ratio {
		if !(theirs[i] > 0) || !(mine[i] > 0) {
			return ratio, false
		}
		ratio[i] = mine[i] / theirs[i]
	}
	return ratio, true
}

// kindOfMode names the proxy a profile mode models.
func kindOfMode(m dataplane.Mode) ProxyKind {
	switch m {
	case dataplane.Ambient:
		return KindZtunnel
	case dataplane.Waypoint:
		return KindWaypoint
	}
	return KindSidecar
}
