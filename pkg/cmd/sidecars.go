package cmd

import (
	"context"
	"fmt"

	"github.com/meshinsight/kubectl-meshinsight/pkg/cluster"
	"github.com/meshinsight/kubectl-meshinsight/pkg/mesh"
)

// writeSidecars reads the cluster and writes the Sidecar resources of
// scope=observed, with the risk in a comment above them; messages go to
// stderr.
func (o *GraphOptions) writeSidecars(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, o.live.Timeout)
	defer cancel()
	plans, _, msgs, err := cluster.CollectSidecars(ctx, o.clients, o.live.clusterOptions(o.clients))
	if err != nil {
		return fmt.Errorf("reading context %q: %w", o.clients.Context, err)
	}
	if len(plans) == 0 {
		return fmt.Errorf("no sidecar workload found in context %q: nothing to scope", o.clients.Context)
	}
	b, err := mesh.RenderSidecars(plans, cluster.SidecarHeader())
	if err != nil {
		return err
	}
	if _, err := o.Out.Write(b); err != nil {
		return fmt.Errorf("writing Sidecar resources: %w", err)
	}
	for _, m := range msgs {
		fmt.Fprintln(o.ErrOut, m)
	}
	return nil
}
