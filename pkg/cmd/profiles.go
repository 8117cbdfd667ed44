package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/meshinsight/kubectl-meshinsight/pkg/kube"
	"github.com/meshinsight/kubectl-meshinsight/pkg/printers"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profilestore"
)

// defaultProfileNamespace is where the cluster's profile ConfigMap is looked
// for without -n: Istio's root namespace, as predict's --istio-namespace.
const defaultProfileNamespace = "istio-system"

// clusterListTimeout bounds `profile list`'s read of the ConfigMap, so an
// unreachable cluster does not hold up the listing of local files.
const clusterListTimeout = 10 * time.Second

// storeAction is what a stored-profile subcommand does.
type storeAction int

const (
	listProfiles storeAction = iota
	showProfile
	removeProfile
)

// StoredProfileOptions are the options of `kubectl meshinsight profile
// list|show|rm`.
type StoredProfileOptions struct {
	getter genericclioptions.RESTClientGetter
	action storeAction

	Output string
	// FromCluster makes show and rm use the cluster's ConfigMap instead of
	// the local store.
	FromCluster bool

	// Set by Complete (tests set them directly).
	name      string
	dir       string
	kube      kubernetes.Interface
	namespace string

	genericiooptions.IOStreams
}

// newProfileSubcommands builds `profile list`, `profile show` and `profile rm`.
func newProfileSubcommands(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) []*cobra.Command {
	list := &StoredProfileOptions{getter: getter, IOStreams: streams, action: listProfiles}
	lc := &cobra.Command{
		Use:   "list",
		Short: "List stored profiles: the local store and the cluster's ConfigMap",
		Long: `List the profiles predict can find: the files of the local store
($XDG_CONFIG_HOME/meshinsight/profiles, else ~/.config/meshinsight/profiles), one per
kube context and node type, and the keys of the ConfigMap meshinsight-profile in -n
NAMESPACE (default istio-system) of the current context, when there is a cluster.`,
		Example: `  # Every stored profile, local and in the cluster
  kubectl meshinsight profile list

  # The cluster's profiles of another context, as YAML
  kubectl meshinsight profile list --context prod -o yaml`,
		Args: cobra.NoArgs,
		RunE: runE(list),
	}
	lc.Flags().StringVarP(&list.Output, "output", "o", "table", "Output format: table|json|yaml|name")

	show := &StoredProfileOptions{getter: getter, IOStreams: streams, action: showProfile}
	sc := &cobra.Command{
		Use:   "show NAME",
		Short: "Summarise a stored profile, or print it with -o json|yaml",
		Example: `  # Provenance, checks, models and operating point of a context's profile
  kubectl meshinsight profile show kind-kind

  # The cluster's default profile, in full
  kubectl meshinsight profile show default --from-cluster -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			show.name = args[0]
			return runE(show)(c, args)
		},
	}
	sc.Flags().StringVarP(&show.Output, "output", "o", "table", "Output format: table (a summary)|json|yaml (the profile)")
	sc.Flags().BoolVar(&show.FromCluster, "from-cluster", false, "Read the profile from the ConfigMap meshinsight-profile in -n NAMESPACE (default istio-system)")

	rm := &StoredProfileOptions{getter: getter, IOStreams: streams, action: removeProfile}
	rc := &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove a stored profile from the local store or, with --from-cluster, from the cluster",
		Example: `  # Forget the profile stored for a context
  kubectl meshinsight profile rm kind-kind

  # Remove one node type's profile from the cluster's ConfigMap
  kubectl meshinsight profile rm nodetype-m5.large --from-cluster -n istio-system`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			rm.name = args[0]
			return runE(rm)(c, args)
		},
	}
	rc.Flags().BoolVar(&rm.FromCluster, "from-cluster", false, "Remove the key from the ConfigMap meshinsight-profile in -n NAMESPACE (default istio-system); removing default deletes the ConfigMap")
	return []*cobra.Command{lc, sc, rc}
}

// Complete finds the local store and, when a kubeconfig is there (and the
// action may need it), the cluster's client and namespace.
func (o *StoredProfileOptions) Complete(*cobra.Command) error {
	o.name = strings.TrimPrefix(o.name, "profile/")
	if o.dir == "" {
		dir, err := profilestore.Dir()
		if err != nil {
			return err
		}
		o.dir = dir
	}
	needCluster := o.action != removeProfile || o.FromCluster
	if o.kube != nil || !needCluster || o.getter == nil {
		if o.namespace == "" {
			o.namespace = defaultProfileNamespace
		}
		return nil
	}
	if noKubeconfig(o.getter) {
		if o.FromCluster {
			return errors.New("no kubeconfig found (KUBECONFIG, ~/.kube/config): --from-cluster reads a cluster; use --kubeconfig or --context")
		}
		return nil
	}
	clients, err := kube.NewClients(o.getter, kube.KubeconfigHint)
	if err != nil {
		if o.FromCluster {
			return err
		}
		fmt.Fprintf(o.ErrOut, "warning: %v; local profiles only\n", err)
		return nil
	}
	o.kube = clients.Kube
	ns, overridden, err := o.getter.ToRawKubeConfigLoader().Namespace()
	if err != nil || !overridden {
		ns = defaultProfileNamespace
	}
	o.namespace = ns
	return nil
}

// Validate checks the output format; no I/O.
func (o *StoredProfileOptions) Validate() error {
	want := map[storeAction][]string{listProfiles: {"table", "json", "yaml", "name"}, showProfile: {"table", "json", "yaml"}}[o.action]
	if want == nil {
		return nil
	}
	for _, f := range want {
		if o.Output == f {
			return nil
		}
	}
	return fmt.Errorf("unknown output format %q: want %s", o.Output, strings.Join(want, ", "))
}

// Run lists, shows or removes.
func (o *StoredProfileOptions) Run(ctx context.Context) error {
	switch o.action {
	case showProfile:
		return o.show(ctx)
	case removeProfile:
		return o.remove(ctx)
	}
	entries, err := profilestore.ListLocal(o.dir)
	if err != nil {
		return err
	}
	if o.kube != nil {
		cctx, cancel := context.WithTimeout(ctx, clusterListTimeout)
		defer cancel()
		remote, err := profilestore.ListCluster(cctx, o.kube, o.namespace)
		if err != nil {
			fmt.Fprintf(o.ErrOut, "warning: %v; listing local profiles only\n", err)
		}
		entries = append(entries, remote...)
	}
	if len(entries) == 0 && o.Output == "table" {
		where := o.dir
		if o.kube != nil {
			where += fmt.Sprintf(" or ConfigMap %s/%s", o.namespace, profilestore.ConfigMapName)
		}
		fmt.Fprintf(o.ErrOut, "No profiles found in %s; run `kubectl meshinsight profile` to measure one.\n", where)
		return nil
	}
	return printers.PrintProfiles(o.Out, entries, o.Output)
}

// show prints one stored profile: the local one of that name, else (or
// with --from-cluster only) the cluster's.
func (o *StoredProfileOptions) show(ctx context.Context) error {
	var e profilestore.Entry
	var err error
	if !o.FromCluster {
		e, err = profilestore.ShowLocal(o.dir, o.name)
	}
	if o.FromCluster || errors.Is(err, profilestore.ErrNotFound) && o.kube != nil {
		localErr := err
		e, err = profilestore.ShowCluster(ctx, o.kube, o.namespace, o.name)
		switch {
		case localErr == nil || err == nil:
		case errors.Is(err, profilestore.ErrNotFound):
			err = fmt.Errorf("%w, nor in ConfigMap %s/%s", localErr, o.namespace, profilestore.ConfigMapName)
		default:
			err = fmt.Errorf("%w, and the cluster's could not be read: %v", localErr, err)
		}
	}
	if errors.Is(err, profilestore.ErrNotFound) {
		return fmt.Errorf("%w: see `kubectl meshinsight profile list`", err)
	}
	if err != nil {
		return err
	}
	switch o.Output {
	case "json":
		b, err := profile.Marshal(e.Profile)
		if err != nil {
			return err
		}
		_, err = o.Out.Write(b)
		return err
	case "yaml":
		b, err := sigsyaml.Marshal(e.Profile)
		if err != nil {
			return fmt.Errorf("encoding profile %q as YAML: %w", o.name, err)
		}
		_, err = o.Out.Write(b)
		return err
	}
	return printers.PrintProfileSummary(o.Out, e)
}

// remove deletes the stored profile from the local store, or with
// --from-cluster from the cluster's ConfigMap.
func (o *StoredProfileOptions) remove(ctx context.Context) error {
	if !o.FromCluster {
		path, err := profilestore.RemoveLocal(o.dir, o.name)
		if errors.Is(err, profilestore.ErrNotFound) {
			return fmt.Errorf("%w: see `kubectl meshinsight profile list` (use --from-cluster for the cluster's)", err)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "profile %q removed (%s)\n", o.name, path)
		return nil
	}
	deleted, err := profilestore.RemoveCluster(ctx, o.kube, o.namespace, o.name)
	if errors.Is(err, profilestore.ErrNotFound) {
		return fmt.Errorf("%w: see `kubectl meshinsight profile list`", err)
	}
	if err != nil {
		return err
	}
	if deleted {
		fmt.Fprintf(o.Out, "profile %q removed: ConfigMap %s/%s deleted\n", o.name, o.namespace, profilestore.ConfigMapName)
		return nil
	}
	fmt.Fprintf(o.Out, "profile %q removed from ConfigMap %s/%s\n", o.name, o.namespace, profilestore.ConfigMapName)
	return nil
}
