// Package profilestore keeps measured profiles where `predict` finds them
// again: a file per kube context (and node type) under the user's config
// directory, and a ConfigMap in the Istio namespace shared by everyone who
// uses the cluster. It also decides which profile a prediction uses:
// --profile, else the cluster's ConfigMap, else the context's file, else the
// embedded reference.
package profilestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/pkg/configmap"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// ConfigMapName is the cluster-wide profile ConfigMap in the Istio namespace.
const ConfigMapName = "meshinsight-profile"

// DefaultKey is the data key of the profile used for workloads whose node
// type has no profile of its own.
const DefaultKey = "default.json"

// Set is the profiles a prediction can use: one default and, optionally,
// one per node type.
type Set struct {
	// Default applies to every workload without a node-type profile.
	Default *profile.Profile
	// ByNodeType holds profiles keyed by node type (instance-type label).
	ByNodeType map[string]*profile.Profile
	// Source says where the set came from, for the user.
	Source string
}

// NewSet builds a set from measured profiles: each is keyed by its
// provenance node type, and the first becomes the default.
func NewSet(source string, profs ...*profile.Profile) *Set {
	s := &Set{Source: source, ByNodeType: map[string]*profile.Profile{}}
	for _, p := range profs {
		if s.Default == nil {
			s.Default = p
		}
		if nt := p.Provenance.Platform.NodeType; nt != "" {
			s.ByNodeType[nt] = p
		}
	}
	return s
}

// NodeTypes lists the node types with a profile, sorted.
func (s *Set) NodeTypes() []string {
	out := make([]string, 0, len(s.ByNodeType))
	for k := range s.ByNodeType {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Key turns a node type into a file name and ConfigMap key part.
func Key(nodeType string) string {
	k := unsafeChars.ReplaceAllString(nodeType, "_")
	if k == "" || k == "." || k == ".." {
		k = "_"
	}
	return k
}

// Dir is where local profiles live: $XDG_CONFIG_HOME/meshinsight/profiles,
// else ~/.config/meshinsight/profiles.
func Dir() (string, error) {
	base := os.Getenv("XDG_CONFIG_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the home directory for the profile store: %w", err)
		}
		base = filepath.Join(home, ".config")
	}
	return filepath.Join(base, "meshinsight", "profiles"), nil
}

// LocalPath is the file of a context's default profile, <dir>/<context>.json.
func LocalPath(dir, kubeContext string) string {
	return filepath.Join(dir, Key(kubeContext)+".json")
}

// localNodeTypePath is <dir>/<context>@<node type>.json.
func localNodeTypePath(dir, kubeContext, nodeType string) string {
	return filepath.Join(dir, Key(kubeContext)+"@"+Key(nodeType)+".json")
}

// SaveLocal writes the set's default profile to LocalPath and every
// node-type profile beside it, and returns the paths written.
func SaveLocal(dir, kubeContext string, s *Set) ([]string, error) {
	if s.Default == nil {
		return nil, errors.New("no profile to save")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the profile directory: %w", err)
	}
	paths := []string{LocalPath(dir, kubeContext)}
	if err := profile.WriteFile(paths[0], s.Default); err != nil {
		return nil, fmt.Errorf("saving the profile: %w", err)
	}
	for _, nt := range s.NodeTypes() {
		p := localNodeTypePath(dir, kubeContext, nt)
		if err := profile.WriteFile(p, s.ByNodeType[nt]); err != nil {
			return nil, fmt.Errorf("saving the profile of node type %q: %w", nt, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// LoadLocal reads the context's profiles; it returns nil, nil when there
// are none.
func LoadLocal(dir, kubeContext string) (*Set, error) {
	main := LocalPath(dir, kubeContext)
	def, err := profile.ReadFile(main)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s := NewSet(main, def)
	others, err := filepath.Glob(filepath.Join(dir, Key(kubeContext)+"@*.json"))
	if err != nil {
		return nil, fmt.Errorf("listing node-type profiles: %w", err)
	}
	sort.Strings(others)
	for _, p := range others {
		np, err := profile.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if nt := np.Provenance.Platform.NodeType; nt != "" {
			s.ByNodeType[nt] = np
		}
	}
	return s, nil
}

// SaveCluster creates or replaces the ConfigMap ConfigMapName in namespace
// ns with the set: DefaultKey plus "<node type>.json" per node type.
func SaveCluster(ctx context.Context, kc kubernetes.Interface, ns string, s *Set) error {
	if s.Default == nil {
		return errors.New("no profile to save")
	}
	data := map[string]string{}
	add := func(key string, p *profile.Profile) error {
		b, err := profile.Marshal(p)
		if err != nil {
			return err
		}
		data[key] = string(b)
		return nil
	}
	if err := add(DefaultKey, s.Default); err != nil {
		return err
	}
	for _, nt := range s.NodeTypes() {
		if err := add("nodetype-"+Key(nt)+".json", s.ByNodeType[nt]); err != nil {
			return err
		}
	}
	if err := configmap.Upsert(ctx, kc, ns, ConfigMapName, data); err != nil {
		return fmt.Errorf("saving the profile as ConfigMap %s/%s: %w", ns, ConfigMapName, err)
	}
	return nil
}

// LoadCluster reads ConfigMapName from namespace ns; it returns nil, nil
// when the ConfigMap does not exist or cannot be read (no access), so that
// prediction falls back to the next source.
func LoadCluster(ctx context.Context, kc kubernetes.Interface, ns string) (*Set, error) {
	cm, err := kc.CoreV1().ConfigMaps(ns).Get(ctx, ConfigMapName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading ConfigMap %s/%s: %w", ns, ConfigMapName, err)
	}
	src := fmt.Sprintf("ConfigMap %s/%s", ns, ConfigMapName)
	raw, ok := cm.Data[DefaultKey]
	if !ok {
		return nil, fmt.Errorf("%s has no %q key: re-run `kubectl meshinsight profile --save-to-cluster`", src, DefaultKey)
	}
	def, err := profile.Parse([]byte(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	s := NewSet(src, def)
	keys := make([]string, 0, len(cm.Data))
	for k := range cm.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, "nodetype-") {
			continue
		}
		p, err := profile.Parse([]byte(cm.Data[k]))
		if err != nil {
			return nil, fmt.Errorf("%s key %q: %w", src, k, err)
		}
		if nt := p.Provenance.Platform.NodeType; nt != "" {
			s.ByNodeType[nt] = p
		}
	}
	return s, nil
}
