package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profilestore"
)

// loadProfile picks the profile a prediction uses, in this order: --profile;
// when reading the live cluster, its ConfigMap in --istio-namespace; the
// profile stored for the kube context by `kubectl meshinsight profile`; the
// embedded reference. It says on stderr which one it used. nodeProfiles are
// the set's per-node-type profiles when they differ from the default.
func (o *PredictOptions) loadProfile(ctx context.Context) (p *profile.Profile, source string, nodeProfiles map[string]*profile.Profile, err error) {
	if o.ProfilePath != "" {
		p, err = profile.ReadFile(o.ProfilePath)
		return p, o.ProfilePath, nil, err
	}
	var set *profilestore.Set
	if o.source == fromCluster {
		if set, err = profilestore.LoadCluster(ctx, o.clients.Kube, o.live.IstioNamespace); err != nil {
			return nil, "", nil, err
		}
	}
	if set == nil && o.kubeContext != "" {
		dir, err := profilestore.Dir()
		if err != nil {
			return nil, "", nil, err
		}
		if set, err = profilestore.LoadLocal(dir, o.kubeContext); err != nil {
			return nil, "", nil, fmt.Errorf("reading the stored profile of context %q: %w (remove it or pass --profile)", o.kubeContext, err)
		}
	}
	if set == nil {
		if p, err = profile.Reference(); err != nil {
			return nil, "", nil, err
		}
		fmt.Fprintln(o.notices(), "Using the embedded reference profile (published Istio figures); run `kubectl meshinsight profile` or pass --profile FILE for a measured one.")
		return p, "embedded", nil, nil
	}
	if len(set.ByNodeType) > 1 || len(set.ByNodeType) == 1 && set.ByNodeType[set.Default.Provenance.Platform.NodeType] == nil {
		nodeProfiles = set.ByNodeType
	}
	msg := fmt.Sprintf("Using the measured profile %q from %s", set.Default.Metadata.Name, set.Source)
	if nodeProfiles != nil {
		msg += " with per-node-type profiles for " + strings.Join(set.NodeTypes(), ", ")
	}
	fmt.Fprintln(o.notices(), msg+"; --profile FILE overrides it.")
	return set.Default, set.Source, nodeProfiles, nil
}
