package profilestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// ErrNotFound is returned (wrapped) for a stored profile name that is not
// in the store or the ConfigMap.
var ErrNotFound = errors.New("no stored profile")

// Where a stored profile lives, as Entry.Source says it.
const (
	// SourceFile is a file in the local store (Dir).
	SourceFile = "file"
	// SourceCluster is a key of the cluster's ConfigMap ConfigMapName.
	SourceCluster = "cluster"
)

// Entry is one stored profile: a file of the local store or a key of the
// cluster's ConfigMap.
type Entry struct {
	// Name identifies the profile for `profile show` and `profile rm`: the
	// file name without .json (CONTEXT or CONTEXT@NODETYPE), or the
	// ConfigMap key without .json (default, nodetype-NODETYPE).
	Name     string    `json:"name"`
	NodeType string    `json:"nodeType,omitempty"`
	Created  time.Time `json:"created,omitzero"`
	// Proxy is the profiled proxy and its version, e.g. "envoy 1.29.1".
	Proxy string `json:"proxy,omitempty"`
	// Source is SourceFile or SourceCluster; Location the file's path or
	// NAMESPACE/CONFIGMAP:KEY.
	Source   string `json:"source"`
	Location string `json:"location"`
	// Profile is the profile itself.
	Profile *profile.Profile `json:"-"`
}

// newEntry describes p, stored under name at location.
func newEntry(name, source, location string, p *profile.Profile) Entry {
	pl := p.Provenance.Platform
	return Entry{Name: name, NodeType: pl.NodeType, Created: p.Metadata.Created,
		Proxy: strings.TrimSpace(pl.Proxy + " " + pl.ProxyVersion), Source: source, Location: location, Profile: p}
}

// ListLocal reads every profile of the local store dir, sorted by name. A
// missing directory is an empty store.
func ListLocal(dir string) ([]Entry, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("listing the profile store %s: %w", dir, err)
	}
	sort.Strings(paths)
	var out []Entry
	for _, path := range paths {
		p, err := profile.ReadFile(path)
		if err != nil {
			name := strings.TrimSuffix(filepath.Base(path), ".json")
			return nil, fmt.Errorf("%w (remove it with `kubectl meshinsight profile rm %s`)", err, name)
		}
		out = append(out, newEntry(strings.TrimSuffix(filepath.Base(path), ".json"), SourceFile, path, p))
	}
	return out, nil
}

// localFile is the path of the stored profile name in dir, checked to be a
// plain name (no path separators) so that rm cannot reach outside dir.
func localFile(dir, name string) (string, error) {
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
		return "", fmt.Errorf("%w named %q in %s", ErrNotFound, name, dir)
	}
	return filepath.Join(dir, strings.TrimSuffix(name, ".json")+".json"), nil
}

// ShowLocal returns the stored profile name of dir.
func ShowLocal(dir, name string) (Entry, error) {
	path, err := localFile(dir, name)
	if err != nil {
		return Entry{}, err
	}
	p, err := profile.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Entry{}, fmt.Errorf("%w named %q in %s", ErrNotFound, name, dir)
	}
	if err != nil {
		return Entry{}, err
	}
	return newEntry(strings.TrimSuffix(name, ".json"), SourceFile, path, p), nil
}

// RemoveLocal deletes the stored profile name from dir and returns its path.
func RemoveLocal(dir, name string) (string, error) {
	path, err := localFile(dir, name)
	if err != nil {
		return "", err
	}
	if err := os.Remove(path); errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w named %q in %s", ErrNotFound, name, dir)
	} else if err != nil {
		return "", fmt.Errorf("removing profile %q: %w", name, err)
	}
	return path, nil
}

// ListCluster reads every profile of the ConfigMap ConfigMapName in ns,
// sorted by key; a missing ConfigMap lists nothing.
func ListCluster(ctx context.Context, kc kubernetes.Interface, ns string) ([]Entry, error) {
	cm, err := kc.CoreV1().ConfigMaps(ns).Get(ctx, ConfigMapName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading ConfigMap %s/%s: %w", ns, ConfigMapName, err)
	}
	keys := make([]string, 0, len(cm.Data))
	for k := range cm.Data {
		if strings.HasSuffix(k, ".json") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]Entry, 0, len(keys))
	for _, k := range keys {
		p, err := profile.Parse([]byte(cm.Data[k]))
		if err != nil {
			return nil, fmt.Errorf("ConfigMap %s/%s key %q: %w", ns, ConfigMapName, k, err)
		}
		out = append(out, newEntry(strings.TrimSuffix(k, ".json"), SourceCluster, fmt.Sprintf("%s/%s:%s", ns, ConfigMapName, k), p))
	}
	return out, nil
}

// ShowCluster returns the profile name of the ConfigMap in ns.
func ShowCluster(ctx context.Context, kc kubernetes.Interface, ns, name string) (Entry, error) {
	all, err := ListCluster(ctx, kc, ns)
	if err != nil {
		return Entry{}, err
	}
	for _, e := range all {
		if e.Name == strings.TrimSuffix(name, ".json") {
			return e, nil
		}
	}
	return Entry{}, fmt.Errorf("%w named %q in ConfigMap %s/%s", ErrNotFound, name, ns, ConfigMapName)
}

// RemoveCluster deletes the profile name from the ConfigMap in ns. The
// default profile is what every node-type profile falls back to, so
// removing it (or the last profile) deletes the whole ConfigMap; deleted
// reports whether it did.
func RemoveCluster(ctx context.Context, kc kubernetes.Interface, ns, name string) (deleted bool, err error) {
	cms := kc.CoreV1().ConfigMaps(ns)
	cm, err := cms.Get(ctx, ConfigMapName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, fmt.Errorf("%w named %q: ConfigMap %s/%s does not exist", ErrNotFound, name, ns, ConfigMapName)
	}
	if err != nil {
		return false, fmt.Errorf("reading ConfigMap %s/%s: %w", ns, ConfigMapName, err)
	}
	key := strings.TrimSuffix(name, ".json") + ".json"
	if _, ok := cm.Data[key]; !ok {
		return false, fmt.Errorf("%w named %q in ConfigMap %s/%s", ErrNotFound, name, ns, ConfigMapName)
	}
	if key == DefaultKey || len(cm.Data) == 1 {
		if err := cms.Delete(ctx, ConfigMapName, metav1.DeleteOptions{}); err != nil {
			return false, fmt.Errorf("deleting ConfigMap %s/%s: %w", ns, ConfigMapName, err)
		}
		return true, nil
	}
	delete(cm.Data, key)
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return false, fmt.Errorf("removing key %q from ConfigMap %s/%s: %w", key, ns, ConfigMapName, err)
	}
	return false, nil
}
