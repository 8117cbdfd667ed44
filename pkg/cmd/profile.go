package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/floatlist"
	"github.com/meshinsight/kubectl-meshinsight/pkg/kube"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profilerun"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profilestore"
	"github.com/meshinsight/kubectl-meshinsight/pkg/safetext"
	"github.com/meshinsight/kubectl-meshinsight/pkg/version"
)

// ProfileOptions are the options of `kubectl meshinsight profile`.
type ProfileOptions struct {
	getter genericclioptions.RESTClientGetter

	Node         string
	NodeSelector string
	AllNodeTypes bool
	Image        string
	// ImagePullPolicy is the pods' pull policy for the agent image; empty
	// leaves the cluster's default.
	ImagePullPolicy string
	Timeout         time.Duration
	Keep            bool
	// DryRun is none, client (render only, no cluster) or server (the API
	// server admits every object without keeping it).
	DryRun         string
	SaveToCluster  bool
	ProfileOut     string
	IstioNamespace string
	Concurrency    int
	CleanLeftovers bool
	Output         string
	// Measurement matrix passed to the agent.
	Protocols []string
	Sizes     []int
	Rates     []float64
	Duration  time.Duration
	Rounds    int

	// Set by Complete.
	clients *kube.Clients

	genericiooptions.IOStreams
}

// NewProfileCommand builds `kubectl meshinsight profile`.
func NewProfileCommand(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewProfileOptions(getter, streams)
	c := &cobra.Command{
		Use:   "profile [--node NODE | --all-node-types]",
		Short: "Measure the mesh's proxies on a node and store the profile for predict",
		Long: `Profile the sidecar proxy your mesh runs, on your nodes: a short-lived namespace gets a
benchmark server and client (injected by your Istio) pinned to the node and a
privileged agent Job (hostPID, eBPF) that drives load through the proxies and around
them, measures CPU and latency per proxy component, fits the models and hands the
profile back. The CLI validates it, saves it for the current context
(~/.config/meshinsight/profiles/CONTEXT.json) and, with --save-to-cluster, as the
ConfigMap meshinsight-profile in Istio's namespace, where every predict finds it.

The namespace is always deleted afterwards (success, failure, --timeout, Ctrl-C)
unless --keep. While a run goes, it renews a heartbeat on its namespace; a
namespace whose heartbeat stopped (a killed run) is deleted by the next run, or by
--clean-leftovers, which profiles nothing. Use --dry-run to review every object and
privilege first: --dry-run=client prints them without reading the cluster;
--dry-run=server also sends them through the API server's admission (RBAC, quotas,
Pod Security, Istio's injector) without keeping them, which needs the run's namespace
to exist: it is created and deleted again.`,
		Example: `  # Review what would be created (no cluster needed), then check it against the cluster
  kubectl meshinsight profile --dry-run=client --node worker-1
  kubectl meshinsight profile --dry-run=server

  # Profile a node and share the result with the cluster
  kubectl meshinsight profile --node worker-1 --save-to-cluster

  # One profile per node type (instance-type label), two at a time
  kubectl meshinsight profile --all-node-types --concurrency 2

  # Delete what killed or --keep runs left behind, without profiling
  kubectl meshinsight profile --clean-leftovers

  # The stored profiles: list them, summarise one, forget one
  kubectl meshinsight profile list
  kubectl meshinsight profile show kind-kind
  kubectl meshinsight profile rm kind-kind`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.AddFlags(c.Flags())
	c.AddCommand(newProfileSubcommands(getter, streams)...)
	return c
}

// NewProfileOptions returns options with defaults.
func NewProfileOptions(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *ProfileOptions {
	return &ProfileOptions{getter: getter, IOStreams: streams, Image: version.AgentImageRef(),
		Timeout: 20 * time.Minute, Concurrency: 2, Output: "table", DryRun: dryRunNone}
}

// AddFlags binds the command's flags to o.
func (o *ProfileOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.Node, "node", "", "Node to profile (default: the first Ready, schedulable Linux node)")
	f.StringVar(&o.NodeSelector, "node-selector", "", "Label selector for candidate nodes; one node per node type among them")
	f.BoolVar(&o.AllNodeTypes, "all-node-types", false, "Profile one node of every node type (instance-type label)")
	f.StringVar(&o.Image, "image", o.Image, "Agent image")
	f.StringVar(&o.ImagePullPolicy, "image-pull-policy", "", "Pull policy of the agent image: Always, IfNotPresent or Never (default: the cluster's, IfNotPresent for a tagged image)")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "Give up (and clean up) after this long")
	f.BoolVar(&o.Keep, "keep", false, "Keep the namespace afterwards for debugging")
	f.StringVar(&o.DryRun, "dry-run", o.DryRun, "none, client (print the manifests; reads no cluster) or server (print them after the API server admitted each without keeping it)")
	f.Lookup("dry-run").NoOptDefVal = "client"
	f.BoolVar(&o.SaveToCluster, "save-to-cluster", false, "Also store the profile as ConfigMap meshinsight-profile in Istio's namespace")
	f.StringVar(&o.ProfileOut, "profile-out", "", "Write the profile to this file instead of the per-context store")
	f.StringVar(&o.IstioNamespace, "istio-namespace", "", "Namespace of istiod (default: search all)")
	f.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "Nodes profiled at once with --all-node-types")
	f.BoolVar(&o.CleanLeftovers, "clean-leftovers", false, "Only delete the namespaces of earlier runs that are gone or were kept (--keep), then exit; a run still going is never touched")
	f.StringVarP(&o.Output, "output", "o", o.Output, "Summary format: table|json|yaml (json and yaml silence progress)")
	f.StringSliceVar(&o.Protocols, "protocols", nil, "Agent: protocols to measure (default tcp,http)")
	f.IntSliceVar(&o.Sizes, "sizes", nil, "Agent: message sizes in bytes (default 128,1024,4096,16384)")
	floatlist.Var(f, &o.Rates, "rates", nil, "Agent: request rates in req/s (default 500,2000)")
	f.DurationVar(&o.Duration, "duration", 0, "Agent: length of each load run (default 1s)")
	f.IntVar(&o.Rounds, "rounds", 0, "Agent: exactly this many interleaved mesh/bypass rounds per cell (default: 3 to 8, more while a cell is imprecise, within 5 minutes)")
}

// Complete builds the cluster's clients; a client dry run needs none.
func (o *ProfileOptions) Complete(*cobra.Command) error {
	if o.DryRun == dryRunClient {
		return nil
	}
	var err error
	o.clients, err = kube.NewClients(o.getter, kube.KubeconfigHint)
	return err
}

// The --dry-run modes, as kubectl has them.
const (
	dryRunNone   = "none"
	dryRunClient = "client"
	dryRunServer = "server"
)

// Validate checks the flags; no I/O.
func (o *ProfileOptions) Validate() error {
	switch o.Output {
	case "table", "json", "yaml":
	default:
		return fmt.Errorf("unknown output format %q: want table, json or yaml", o.Output)
	}
	switch o.DryRun {
	case dryRunNone, dryRunClient, dryRunServer:
	default:
		return fmt.Errorf("--dry-run %q: want none, client or server", o.DryRun)
	}
	if o.CleanLeftovers && (o.DryRun != dryRunNone || o.Keep) {
		return errors.New("--clean-leftovers only cleans up, it profiles nothing: leave out --dry-run and --keep")
	}
	if o.Node != "" && (o.AllNodeTypes || o.NodeSelector != "") {
		return errors.New("--node cannot be combined with --all-node-types or --node-selector")
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout %v: must be positive", o.Timeout)
	}
	if o.Concurrency < 1 {
		return fmt.Errorf("--concurrency %d: must be at least 1", o.Concurrency)
	}
	if o.Image == "" {
		return errors.New("--image must not be empty")
	}
	switch o.ImagePullPolicy {
	case "", "Always", "IfNotPresent", "Never":
	default:
		return fmt.Errorf("--image-pull-policy %q: want Always, IfNotPresent or Never", o.ImagePullPolicy)
	}
	return nil
}

func (o *ProfileOptions) agentArgs() []string {
	var a []string
	if len(o.Protocols) > 0 {
		a = append(a, "--protocols="+strings.Join(o.Protocols, ","))
	}
	if len(o.Sizes) > 0 {
		s := make([]string, len(o.Sizes))
		for i, v := range o.Sizes {
			s[i] = strconv.Itoa(v)
		}
		a = append(a, "--sizes="+strings.Join(s, ","))
	}
	if len(o.Rates) > 0 {
		s := make([]string, len(o.Rates))
		for i, v := range o.Rates {
			s[i] = strconv.FormatFloat(v, 'g', -1, 64)
		}
		a = append(a, "--rates="+strings.Join(s, ","))
	}
	if o.Duration > 0 {
		a = append(a, "--duration="+o.Duration.String())
	}
	if o.Rounds > 0 {
		a = append(a, "--rounds="+strconv.Itoa(o.Rounds), "--max-rounds="+strconv.Itoa(o.Rounds))
	}
	return a
}

// profileSummary is the -o json|yaml document.
type profileSummary struct {
	Namespace string            `json:"namespace"`
	Istio     *profilerun.Istio `json:"istio"`
	Profiles  []storedProfile   `json:"profiles"`
}

type storedProfile struct {
	Node     string   `json:"node"`
	NodeType string   `json:"nodeType"`
	Models   int      `json:"models"`
	Stored   []string `json:"stored"`
}

// Run does the profiling; cancelling ctx (Ctrl-C and SIGTERM, through
// main's signal context) stops it and cleans up.
func (o *ProfileOptions) Run(ctx context.Context) error {
	quiet := o.Output != "table"
	prog := newProgress(o.ErrOut, quiet)
	// What is logged quotes the cluster (node, image and namespace names,
	// pod states): escaped, like all output.
	say := func(format string, args ...any) { fmt.Fprintln(o.ErrOut, safetext.Text(fmt.Sprintf(format, args...))) }
	logf := func(format string, args ...any) {
		if !quiet {
			say(format, args...)
		}
	}
	if o.DryRun == dryRunClient {
		plan, err := profilerun.ClientPlan(o.planConfig())
		if err != nil {
			return err
		}
		describePlan(plan, logf)
		return o.writeManifests(plan)
	}

	kc, kctx := o.clients.Kube, o.clients.Context
	if o.CleanLeftovers {
		return o.handleLeftovers(ctx, kc, say)
	}
	if skew := version.AgentSkew(version.Version, o.Image); skew != "" {
		logf("%s", skew)
	}
	if o.DryRun == dryRunNone {
		if err := o.handleLeftovers(ctx, kc, logf); err != nil {
			return err
		}
	}
	prog.Phase("preflight")
	plan, err := profilerun.NewPlan(ctx, kc, o.planConfig())
	if err != nil {
		return fmt.Errorf("preflight on context %q: %w", kctx, err)
	}
	describePlan(plan, logf)
	clients := profilerun.Clients{Kube: kc, Dynamic: o.clients.Dynamic}
	if o.DryRun == dryRunServer {
		prog.Phase("server-side dry run")
		n, err := profilerun.ServerDryRun(ctx, clients, plan, 2*time.Minute)
		if err != nil {
			return fmt.Errorf("context %q: %w", kctx, err)
		}
		logf("server dry run: the API server of context %q admitted all %d objects and kept none (namespace %s was created for it and deleted)", kctx, n, plan.Params.Namespace)
		return o.writeManifests(plan)
	}

	results, err := profilerun.Execute(ctx, clients, plan, profilerun.RunOptions{
		Timeout: o.Timeout, Keep: o.Keep, Concurrency: o.Concurrency, Progress: prog,
	})
	if o.Keep {
		logf("kept namespace %s; remove it with: kubectl delete namespace %s", plan.Params.Namespace, plan.Params.Namespace)
	}
	if err != nil {
		if len(results) > 0 {
			logf("%d of %d node(s) finished before the error; their profiles are not saved", len(results), len(plan.Nodes))
		}
		return err
	}
	return o.store(ctx, kc, kctx, plan, results)
}

// planConfig is the run as profilerun takes it.
func (o *ProfileOptions) planConfig() profilerun.Config {
	return profilerun.Config{
		Node: o.Node, NodeSelector: o.NodeSelector, AllNodeTypes: o.AllNodeTypes, IstioNamespace: o.IstioNamespace,
		SaveToCluster: o.SaveToCluster, Image: o.Image, ImagePullPolicy: o.ImagePullPolicy, Version: version.Version, Timeout: o.Timeout,
		AgentArgs: o.agentArgs(),
	}
}

// describePlan logs what the preflight found (or a client dry run assumed).
func describePlan(plan *profilerun.Plan, logf func(string, ...any)) {
	mode := dataplane.Sidecar
	if plan.Istio.Ambient {
		mode = dataplane.Ambient
	}
	logf("  Istio %s (revision %s, %s) in %s; proxy image %s", plan.Istio.Version, plan.Istio.Revision, mode, plan.Istio.Namespace, plan.Istio.ProxyImage)
	for _, n := range plan.Nodes {
		logf("  node %s: type %s, kernel %s, %s", n.Name, n.NodeType, n.Kernel, n.Arch)
	}
	for _, n := range plan.Notes {
		logf("  note: %s", n)
	}
}

// writeManifests prints the plan's objects (--dry-run).
func (o *ProfileOptions) writeManifests(plan *profilerun.Plan) error {
	m, err := plan.Manifests()
	if err != nil {
		return err
	}
	if _, err := o.Out.Write(m); err != nil {
		return fmt.Errorf("writing the manifests: %w", err)
	}
	return nil
}

func (o *ProfileOptions) store(ctx context.Context, kc kubernetes.Interface, kctx string, plan *profilerun.Plan, results []profilerun.Result) error {
	var profs []*profile.Profile
	for _, r := range results {
		if r.Profile.Provenance.Platform.NodeType == "" {
			r.Profile.Provenance.Platform.NodeType = r.Target.NodeType
		}
		profs = append(profs, r.Profile)
	}
	set := profilestore.NewSet("", profs...)
	stored := map[string][]string{}
	if o.ProfileOut != "" {
		for i, p := range profs {
			path := o.ProfileOut
			if i > 0 {
				path = strings.TrimSuffix(o.ProfileOut, ".json") + "@" + profilestore.Key(p.Provenance.Platform.NodeType) + ".json"
			}
			if err := profile.WriteFile(path, p); err != nil {
				return err
			}
			stored[p.Provenance.Platform.NodeType] = append(stored[p.Provenance.Platform.NodeType], path)
		}
	} else {
		dir, err := profilestore.Dir()
		if err != nil {
			return err
		}
		paths, err := profilestore.SaveLocal(dir, kctx, set)
		if err != nil {
			return err
		}
		// paths[0] is the default (first node type), then one per node type.
		stored[profs[0].Provenance.Platform.NodeType] = append(stored[profs[0].Provenance.Platform.NodeType], paths[0])
		for i, nt := range set.NodeTypes() {
			stored[nt] = append(stored[nt], paths[i+1])
		}
	}
	if o.SaveToCluster {
		if err := profilestore.SaveCluster(ctx, kc, plan.Istio.Namespace, set); err != nil {
			return err
		}
		for _, p := range profs {
			nt := p.Provenance.Platform.NodeType
			stored[nt] = append(stored[nt], fmt.Sprintf("configmap %s/%s", plan.Istio.Namespace, profilestore.ConfigMapName))
		}
	}
	sum := profileSummary{Namespace: plan.Params.Namespace, Istio: plan.Istio}
	for _, r := range results {
		nt := r.Profile.Provenance.Platform.NodeType
		sum.Profiles = append(sum.Profiles, storedProfile{Node: r.Target.Node, NodeType: nt, Models: len(r.Profile.Models), Stored: stored[nt]})
	}
	switch o.Output {
	case "json":
		enc := json.NewEncoder(o.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	case "yaml":
		b, err := sigsyaml.Marshal(sum)
		if err != nil {
			return err
		}
		_, err = o.Out.Write(b)
		return err
	}
	for _, p := range sum.Profiles {
		fmt.Fprintf(o.Out, "node %s (type %s): %d models, stored in %s\n", p.Node, p.NodeType, p.Models, strings.Join(p.Stored, " and "))
	}
	fmt.Fprintln(o.Out, "kubectl meshinsight predict now uses it for this context.")
	return nil
}

// handleLeftovers deletes the namespaces of runs that are gone (their
// heartbeat stopped), and with --clean-leftovers those kept with --keep
// too. The namespace of a run still going is never touched, nor one
// without a heartbeat (an older version's run) until it is a day old; both
// are named, with how to remove them.
func (o *ProfileOptions) handleLeftovers(ctx context.Context, kc kubernetes.Interface, logf func(string, ...any)) error {
	now := time.Now()
	left, err := profilerun.Leftovers(ctx, kc, now)
	if err != nil {
		if o.CleanLeftovers {
			return err
		}
		// Listing namespaces may be forbidden; that is no reason not to run.
		return nil
	}
	deleted := 0
	for _, l := range left {
		age := l.Age(now)
		switch {
		case l.State == profilerun.Stale, l.State == profilerun.Kept && o.CleanLeftovers:
			logf("deleting leftover namespace %s (%s run, last seen %v ago)", l.Namespace, l.State, age)
			if err := profilerun.DeleteNamespace(ctx, kc, l.Namespace, time.Second); err != nil {
				return err
			}
			deleted++
		case l.State == profilerun.Kept:
			logf("note: namespace %s was kept by an earlier run (--keep); delete it with `kubectl delete namespace %s` or `kubectl meshinsight profile --clean-leftovers`", l.Namespace, l.Namespace)
		case l.State == profilerun.Live:
			logf("note: namespace %s belongs to a run that is still going (heartbeat %v ago); left alone", l.Namespace, age)
		default:
			logf("note: namespace %s has no heartbeat (made by an older version) and is %v old, so its run may still be going; if it is not, delete it with `kubectl delete namespace %s`",
				l.Namespace, age, l.Namespace)
		}
	}
	if o.CleanLeftovers && deleted == 0 {
		logf("no leftover namespaces to delete")
	}
	return nil
}
