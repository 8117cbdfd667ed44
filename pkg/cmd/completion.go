package cmd

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/examples"
)

// completionTimeout bounds a completion's cluster read: a shell waits for it.
const completionTimeout = 5 * time.Second

// registerCompletions gives the shell (through kubectl_complete-meshinsight
// or `kubectl meshinsight completion`) the namespaces and contexts of the
// kubeconfig's cluster for -n and --context, and the embedded examples for
// -f, as kubectl completes its own flags.
func registerCompletions(root *cobra.Command, flags *genericclioptions.ConfigFlags) {
	_ = root.RegisterFlagCompletionFunc("namespace", func(c *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		return completeNamespaces(c.Context(), flags, prefix), cobra.ShellCompDirectiveNoFileComp
	})
	_ = root.RegisterFlagCompletionFunc("context", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return completeContexts(flags), cobra.ShellCompDirectiveNoFileComp
	})
	for _, c := range allCommands(root) {
		registerCommandCompletions(c, flags)
		if c.Flags().Lookup("filename") == nil {
			continue
		}
		_ = c.RegisterFlagCompletionFunc("filename", func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
			if !strings.HasPrefix("example:", prefix) && !strings.HasPrefix(prefix, "example:") {
				return nil, cobra.ShellCompDirectiveDefault // files
			}
			var out []string
			for _, name := range examples.Names() {
				out = append(out, "example:"+name)
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		})
	}
}

// allCommands is root's commands and their subcommands, depth first.
func allCommands(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, c := range root.Commands() {
		out = append(out, c)
		out = append(out, allCommands(c)...)
	}
	return out
}

// registerCommandCompletions completes c's --what-if (keys, values and
// the names of the graph's workloads and calls), --node (the cluster's
// nodes) and, for profile show|rm, the stored profiles' names.
func registerCommandCompletions(c *cobra.Command, flags *genericclioptions.ConfigFlags) {
	if c.Flags().Lookup("what-if") != nil {
		_ = c.RegisterFlagCompletionFunc("what-if", func(c *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
			var names graphNames
			if strings.Contains(prefix, "=") {
				names = completionNames(contextOf(c), c, flags)
			}
			return whatIfCompletions(prefix, names), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
		})
	}
	if c.Flags().Lookup("node") != nil {
		_ = c.RegisterFlagCompletionFunc("node", func(c *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
			return completeNodes(contextOf(c), flags, prefix), cobra.ShellCompDirectiveNoFileComp
		})
	}
	if c.Parent() != nil && c.Parent().Name() == "profile" && (c.Name() == "show" || c.Name() == "rm") {
		c.ValidArgsFunction = func(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return completeStoredProfiles(prefix), cobra.ShellCompDirectiveNoFileComp
		}
	}
}

// contextOf is c's context, or the background one outside Execute.
func contextOf(c *cobra.Command) context.Context {
	if ctx := c.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// completeNamespaces lists the cluster's namespaces starting with prefix;
// none when the cluster cannot be read in time.
func completeNamespaces(ctx context.Context, flags *genericclioptions.ConfigFlags, prefix string) []string {
	return listNames(ctx, flags, prefix, func(ctx context.Context, cs kubernetes.Interface) ([]string, error) {
		list, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		return itemNames(list.Items), nil
	})
}

// itemNames is the names of a list's items, in order.
func itemNames[T any, P interface {
	*T
	GetName() string
}](items []T) []string {
	var out []string
	for i := range items {
		out = append(out, P(&items[i]).GetName())
	}
	return out
}

// listNames reads names from the cluster of flags with list, within
// completionTimeout, and keeps those starting with prefix; none when the
// cluster cannot be read: a shell completion never fails.
func listNames(ctx context.Context, flags *genericclioptions.ConfigFlags, prefix string, list func(context.Context, kubernetes.Interface) ([]string, error)) []string {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	names, err := list(ctx, cs)
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// completeContexts lists the kubeconfig's contexts.
func completeContexts(flags *genericclioptions.ConfigFlags) []string {
	raw, err := flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil
	}
	var out []string
	for name := range raw.Contexts {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
