package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profilestore"
)

// loadProfile picks the profile a prediction uses, in this order: --profile;
// in live mode, the cluster's ConfigMap in --istio-namespace; the profile
// stored for the kube context by `kubectl meshinsight profile`; the
// embedded reference. It says on stderr which one it used.
func (o *PredictOptions) loadProfile(ctx context.Context) error {
	var err error
	if o.ProfilePath != "" {
		if o.prof, err = profile.ReadFile(o.ProfilePath); err != nil {
			return err
		}
		o.profSrc = o.ProfilePath
		return nil
	}
	var set *profilestore.Set
	if o.Filename == "" && !o.traces.enabled() {
		kc, _, kerr := kubeClient(o.configFlags)
		if kerr == nil {
			if set, err = profilestore.LoadCluster(ctx, kc, o.live.IstioNamespace); err != nil {
				return err
			}
		}
	}
	if set == nil {
		if kctx := contextName(o.configFlags); kctx != "" {
			dir := o.StoreDir
			if dir == "" {
				if dir, err = profilestore.Dir(); err != nil {
					return err
				}
			}
			if set, err = profilestore.LoadLocal(dir, kctx); err != nil {
				return fmt.Errorf("reading the stored profile of context %q: %w (remove it or pass --profile)", kctx, err)
			}
		}
	}
	if set == nil {
		if o.prof, err = profile.Reference(); err != nil {
			return err
		}
		o.profSrc = "embedded"
		fmt.Fprintln(o.ErrOut, "Using the embedded reference profile (published Istio figures); run `kubectl meshinsight profile` or pass --profile FILE for a measured one.")
		return nil
	}
	o.prof, o.profSrc = set.Default, set.Source
	if len(set.ByNodeType) > 1 || len(set.ByNodeType) == 1 && set.ByNodeType[set.Default.Provenance.Platform.NodeType] == nil {
		o.nodeProfiles = set.ByNodeType
	}
	msg := fmt.Sprintf("Using the measured profile %q from %s", set.Default.Metadata.Name, set.Source)
	if o.nodeProfiles != nil {
		msg += " with per-node-type profiles for " + strings.Join(set.NodeTypes(), ", ")
	}
	fmt.Fprintln(o.ErrOut, msg+"; --profile FILE overrides it.")
	return nil
}
