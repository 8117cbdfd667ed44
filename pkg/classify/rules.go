package classify

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/ianlancetaylor/demangle"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

//go:embed rules/*.yaml
var embedded embed.FS

// kernelFile is the embedded file of rules shared by every proxy.
const kernelFile = "kernel"

// ErrUnknownProxy is returned by Load for a proxy without an embedded file.
var ErrUnknownProxy = errors.New("no classification rules for proxy")

// File is the YAML layout of a rule file.
type File struct {
	// Proxy names the proxy; for embedded files it equals the file name.
	Proxy string `json:"proxy"`
	// Description says which builds the rules were written against.
	Description string `json:"description,omitempty"`
	// Modules matches the base names of the proxy's own executable files.
	// When set, a stack that no rule classifies and whose frames are all in
	// other files is App rather than proxy-other.
	Modules *Match `json:"modules,omitempty"`
	// Rules in priority order: at one frame the first matching rule wins.
	Rules []Rule `json:"rules"`
}

// Rule assigns a component to frames. Exactly one of Kernel, User and
// Module is set.
type Rule struct {
	// Name identifies the rule in errors and documentation.
	Name string `json:"name,omitempty"`
	// Component is a profile component name or "app".
	Component profile.Component `json:"component"`
	// Kernel matches kernel function names.
	Kernel *Match `json:"kernel,omitempty"`
	// User matches user function names (demangled when mangled).
	User *Match `json:"user,omitempty"`
	// Module matches the base name of a user frame's file ("libssl.so.3"),
	// which classifies frames of stripped libraries.
	Module *Match `json:"module,omitempty"`
	// Inside, when set, requires a frame of the same stack side, closer to
	// the root than the matching one, whose function name matches.
	Inside *Match `json:"inside,omitempty"`
}

// Match lists name patterns; a name matches if any pattern does.
type Match struct {
	// Exact holds whole names.
	Exact []string `json:"exact,omitempty"`
	// Prefix holds name prefixes, typically namespaces ("Envoy::Router::").
	Prefix []string `json:"prefix,omitempty"`
	// Contains holds substrings, for mangled names that do not demangle.
	Contains []string `json:"contains,omitempty"`
	// Regex holds RE2 expressions, unanchored unless written with ^ and $.
	Regex []string `json:"regex,omitempty"`
}

// Rules is a loaded, validated rule set: one proxy's rules followed by the
// shared kernel rules. It is safe for concurrent use.
type Rules struct {
	proxy   string
	rules   []rule
	modules *matcher

	mu        sync.Mutex
	memo      map[memoKey][]int
	demangled map[string]string
}

type side uint8

const (
	sideKernel side = iota
	sideUser
	sideModule
)

type memoKey struct {
	side side
	name string
}

type rule struct {
	name      string
	component profile.Component
	side      side
	match     *matcher
	inside    *matcher
}

type matcher struct {
	exact    map[string]bool
	prefix   []string
	contains []string
	regex    []*regexp.Regexp
}

func (m *matcher) match(s string) bool {
	if m.exact[s] {
		return true
	}
	for _, p := range m.prefix {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	for _, c := range m.contains {
		if strings.Contains(s, c) {
			return true
		}
	}
	for _, re := range m.regex {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// Proxy is the proxy the rules are for.
func (r *Rules) Proxy() string { return r.proxy }

// Known lists the proxies with embedded rule files, sorted.
func Known() []string {
	ents, err := fs.ReadDir(embedded, "rules")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".yaml")
		if ok && name != kernelFile {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Load returns the embedded rules of a proxy (see Known) merged with the
// shared kernel rules.
func Load(proxy string) (*Rules, error) {
	if proxy == kernelFile || !slices.Contains(Known(), proxy) {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownProxy, proxy, strings.Join(Known(), ", "))
	}
	name := "rules/" + proxy + ".yaml"
	data, err := embedded.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	f, err := ParseFile(name, data)
	if err != nil {
		return nil, err
	}
	if f.Proxy != proxy {
		return nil, fmt.Errorf("rules file %s: proxy is %q, want %q", name, f.Proxy, proxy)
	}
	return withKernel(name, f)
}

// LoadFile reads a user-supplied rule file (a proxy not embedded, or
// refined rules for one that is) and merges it with the shared kernel rules.
func LoadFile(path string) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading rules file: %w", err)
	}
	f, err := ParseFile(filepath.Base(path), data)
	if err != nil {
		return nil, err
	}
	return withKernel(path, f)
}

func withKernel(name string, f *File) (*Rules, error) {
	kdata, err := embedded.ReadFile("rules/" + kernelFile + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("reading shared kernel rules: %w", err)
	}
	k, err := ParseFile("rules/"+kernelFile+".yaml", kdata)
	if err != nil {
		return nil, err
	}
	merged := *f
	merged.Rules = append(slices.Clip(f.Rules), k.Rules...)
	r, err := compile(&merged)
	if err != nil {
		return nil, fmt.Errorf("rules file %s: %w", name, err)
	}
	return r, nil
}

// ParseFile decodes and validates a rule file; name is used in errors.
// Unknown fields are errors, so a misspelt key does not silently drop a rule.
func ParseFile(name string, data []byte) (*File, error) {
	var f File
	if err := sigsyaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("rules file %s: %w", name, err)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("rules file %s: %w", name, err)
	}
	return &f, nil
}

// Validate checks the file: a proxy name, known components, one match
// target per rule, non-empty patterns and regular expressions that compile.
func (f *File) Validate() error {
	if strings.TrimSpace(f.Proxy) == "" {
		return errors.New("proxy is empty")
	}
	if f.Modules != nil {
		if _, err := compileMatch(f.Modules); err != nil {
			return fmt.Errorf("modules: %w", err)
		}
	}
	if len(f.Rules) == 0 {
		return errors.New("no rules")
	}
	_, err := compile(f)
	return err
}

func compile(f *File) (*Rules, error) {
	r := &Rules{proxy: f.Proxy, memo: map[memoKey][]int{}, demangled: map[string]string{}}
	if f.Modules != nil {
		m, err := compileMatch(f.Modules)
		if err != nil {
			return nil, fmt.Errorf("modules: %w", err)
		}
		r.modules = m
	}
	for i, fr := range f.Rules {
		where := fmt.Sprintf("rules[%d]", i)
		if fr.Name != "" {
			where += " (" + fr.Name + ")"
		}
		cr, err := compileRule(fr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		r.rules = append(r.rules, cr)
	}
	return r, nil
}

func compileRule(fr Rule) (rule, error) {
	var cr rule
	switch {
	case fr.Component == profile.SchedWait:
		return cr, fmt.Errorf("component %q is measured from scheduler events, not stack samples", fr.Component)
	case fr.Component != App && !slices.Contains(profile.Components, fr.Component):
		return cr, fmt.Errorf("unknown component %q (want one of %s, %s)", fr.Component, componentList(), App)
	}
	cr.component, cr.name = fr.Component, fr.Name
	var target *Match
	n := 0
	if fr.Kernel != nil {
		n++
		cr.side, target = sideKernel, fr.Kernel
	}
	if fr.User != nil {
		n++
		cr.side, target = sideUser, fr.User
	}
	if fr.Module != nil {
		n++
		cr.side, target = sideModule, fr.Module
	}
	if n != 1 {
		return cr, fmt.Errorf("want exactly one of kernel, user and module, got %d", n)
	}
	var err error
	if cr.match, err = compileMatch(target); err != nil {
		return cr, err
	}
	if fr.Inside != nil {
		if cr.inside, err = compileMatch(fr.Inside); err != nil {
			return cr, fmt.Errorf("inside: %w", err)
		}
	}
	return cr, nil
}

func componentList() string {
	var s []string
	for _, c := range profile.Components {
		if c != profile.SchedWait {
			s = append(s, string(c))
		}
	}
	return strings.Join(s, ", ")
}

func compileMatch(m *Match) (*matcher, error) {
	if len(m.Exact)+len(m.Prefix)+len(m.Contains)+len(m.Regex) == 0 {
		return nil, errors.New("match has no patterns")
	}
	out := &matcher{exact: map[string]bool{}}
	for _, list := range [][]string{m.Exact, m.Prefix, m.Contains, m.Regex} {
		for _, p := range list {
			if p == "" {
				return nil, errors.New("empty pattern (it would match every frame)")
			}
		}
	}
	for _, e := range m.Exact {
		out.exact[e] = true
	}
	out.prefix = m.Prefix
	out.contains = m.Contains
	for _, expr := range m.Regex {
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("regex %q: %w", expr, err)
		}
		out.regex = append(out.regex, re)
	}
	return out, nil
}

// candidates lists, in priority order, the rules of a side whose match
// accepts the frame (function name, and module for user frames), ignoring
// inside conditions. Results are memoized per name.
func (r *Rules) candidates(s side, name, module string) []int {
	c := r.lookup(s, name)
	if s == sideUser && module != "" {
		if m := r.lookup(sideModule, module); len(m) > 0 {
			c = append(slices.Clip(c), m...)
			slices.Sort(c)
		}
	}
	return c
}

func (r *Rules) lookup(s side, name string) []int {
	if name == "" {
		return nil
	}
	key := memoKey{s, name}
	r.mu.Lock()
	c, ok := r.memo[key]
	r.mu.Unlock()
	if ok {
		return c
	}
	for i := range r.rules {
		if r.rules[i].side == s && r.matchName(r.rules[i].match, name) {
			c = append(c, i)
		}
	}
	r.mu.Lock()
	r.memo[key] = c
	r.mu.Unlock()
	return c
}

// matchName matches a name, or for a mangled name that demangles, its
// demangled form only: a mangled name also spells its parameter types, and
// a pattern meant for one namespace must not match a function merely taking
// an argument from it.
func (r *Rules) matchName(m *matcher, name string) bool {
	return m.match(r.demangle(name))
}

func (r *Rules) demangle(name string) string {
	if !strings.HasPrefix(name, "_Z") && !strings.HasPrefix(name, "_R") {
		return name
	}
	r.mu.Lock()
	d, ok := r.demangled[name]
	r.mu.Unlock()
	if ok {
		return d
	}
	d = Demangle(name)
	r.mu.Lock()
	r.demangled[name] = d
	r.mu.Unlock()
	return d
}

// Demangle returns the readable form rules match mangled C++ and Rust names
// against: qualified name without parameters, template arguments or clone
// suffixes ("Envoy::Http::Http1::BalsaParser::execute"). Names that do not
// demangle are returned unchanged.
func Demangle(name string) string {
	return demangle.Filter(name, demangle.NoParams, demangle.NoTemplateParams, demangle.NoClones)
}
