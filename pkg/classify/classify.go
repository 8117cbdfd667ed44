// Package classify attributes sampled stacks of a proxy to the profile's
// components (socket-read, tls, parsing, ...). The rules are data: one YAML
// file per proxy under rules/ (embedded), plus rules/kernel.yaml shared by
// all proxies; a new proxy is a new file, loadable with LoadFile.
//
// # Algorithm
//
// Kernel frames are classified first, then user frames, each walking from
// the leaf towards the root; at each frame the rules are tried in order (the
// proxy's file, then kernel.yaml) and the first rule that matches the frame
// (and whose optional inside condition matches a frame closer to the root)
// decides; user frames are consulted only when no kernel rule claims a
// frame (a page fault, a futex, an interrupt). So kernel time is charged to the kernel activity it serves (the
// socket call, epoll, netfilter, the loopback delivery) even when user code
// such as TLS issued the call, as MeshInsight does; user time goes to the
// innermost recognised piece of code, so generic helpers (memcpy, malloc)
// count for their caller. Because the walk continues rootward past frames
// no rule names, a proxy file lists proxy-other rules at hand-off points
// (the codec calling the filter chain, a stream task polling the service) so
// that the caller's component does not swallow its callees. A stack no rule
// matches is proxy-other, or app when frames carry modules and none of them
// is the proxy's (see File.Modules).
//
// # Names
//
// Rules match function names as given, except that mangled C++ and Rust
// names (_Z..., _R...) are matched in their demangled form without
// parameters, template arguments or clone suffixes
// ("Envoy::Http::Http1::BalsaParser::execute"), so rule files are written
// with readable prefixes. A mangled name the demangler rejects is matched
// raw, which is what mangled substrings in rule files ("N5Envoy4Http5Http1")
// are for.
package classify

import (
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/symbolize"
)

// App is the component of samples whose user stack lies outside the proxy
// (an application sharing the sampled process or pod). It is not part of
// profile.Components: callers drop it from the proxy's cost, or report it.
const App profile.Component = "app"

// Sample is a symbolized stack sample.
type Sample struct {
	// Kernel holds kernel function names, leaf first.
	Kernel []string
	// User holds user frames, leaf first.
	User []symbolize.Frame
	// Count is how many times the stack was sampled.
	Count uint64
}

// Classify returns the component of one stack given as kernel and user
// function names, leaf first. Module-based rules do not apply (names carry no
// module), and the fallback is always proxy-other.
func (r *Rules) Classify(kernel, user []string) profile.Component {
	if c, ok := r.walk(sideKernel, kernel, nil); ok {
		return c
	}
	if c, ok := r.walk(sideUser, user, nil); ok {
		return c
	}
	return profile.ProxyOther
}

// ClassifyFrames is Classify for resolved user frames, which lets module
// rules (a frame in libssl.so is TLS) and the app fallback apply.
func (r *Rules) ClassifyFrames(kernel []string, user []symbolize.Frame) profile.Component {
	if c, ok := r.walk(sideKernel, kernel, nil); ok {
		return c
	}
	names := make([]string, len(user))
	mods := make([]string, len(user))
	for i, f := range user {
		names[i], mods[i] = f.Function, f.Module
	}
	if c, ok := r.walk(sideUser, names, mods); ok {
		return c
	}
	if r.modules == nil {
		return profile.ProxyOther
	}
	known := false
	for _, m := range mods {
		if m == "" || m[0] == '[' {
			continue
		}
		known = true
		if r.modules.match(m) {
			return profile.ProxyOther
		}
	}
	if known {
		return App
	}
	return profile.ProxyOther
}

// Aggregate sums sample counts per component.
func (r *Rules) Aggregate(samples []Sample) map[profile.Component]uint64 {
	out := map[profile.Component]uint64{}
	for _, s := range samples {
		out[r.ClassifyFrames(s.Kernel, s.User)] += s.Count
	}
	return out
}

// walk classifies one side of a stack; mods is nil or parallel to names.
func (r *Rules) walk(s side, names, mods []string) (profile.Component, bool) {
	d, ok := r.decide(s, names, mods)
	return d.Component, ok
}

// decide finds the first frame, from the leaf, that a rule claims.
func (r *Rules) decide(s side, names, mods []string) (Decision, bool) {
	for i, name := range names {
		mod := ""
		if mods != nil {
			mod = mods[i]
		}
		for _, ri := range r.candidates(s, name, mod) {
			rule := &r.rules[ri]
			if rule.inside == nil || r.anyMatch(rule.inside, names[i+1:]) {
				return Decision{Component: rule.component, Rule: rule.name, Kernel: s == sideKernel, Frame: i}, true
			}
		}
	}
	return Decision{}, false
}

// Decision explains a classification: which rule claimed which frame.
type Decision struct {
	Component profile.Component
	// Rule is the deciding rule's name, "" for the fallback.
	Rule string
	// Kernel reports whether the frame is on the kernel side; Frame is its
	// index from the leaf, -1 for the fallback.
	Kernel bool
	Frame  int
}

// Explain classifies like Classify and says which rule decided, for rule
// authors checking recorded stacks.
func (r *Rules) Explain(kernel, user []string) Decision {
	if d, ok := r.decide(sideKernel, kernel, nil); ok {
		return d
	}
	if d, ok := r.decide(sideUser, user, nil); ok {
		return d
	}
	return Decision{Component: profile.ProxyOther, Frame: -1}
}

func (r *Rules) anyMatch(m *matcher, names []string) bool {
	for _, n := range names {
		if n != "" && r.matchName(m, n) {
			return true
		}
	}
	return false
}
