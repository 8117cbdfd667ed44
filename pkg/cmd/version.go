package cmd

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/meshinsight/kubectl-meshinsight/pkg/version"
)

// VersionOptions are the options of `kubectl meshinsight version`.
type VersionOptions struct {
	Output string
	genericiooptions.IOStreams
}

// versionOutput is the machine-readable version document.
type versionOutput struct {
	ClientVersion version.Info `json:"clientVersion"`
	// AgentImage is the image `kubectl meshinsight profile` deploys.
	AgentImage string `json:"agentImage"`
	// Skew warns when the agent image's version differs from the client's.
	Skew string `json:"skew,omitempty"`
}

// NewVersionCommand builds `kubectl meshinsight version`.
func NewVersionCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &VersionOptions{IOStreams: streams}
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the client version and the agent image it deploys",
		Example: `  kubectl meshinsight version
  kubectl meshinsight version -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	c.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: one of '', json, yaml")
	return c
}

// Validate checks the output format.
func (o *VersionOptions) Validate() error {
	switch o.Output {
	case "", "json", "yaml":
		return nil
	}
	return fmt.Errorf("--output %q: want json or yaml, or nothing for plain text", o.Output)
}

// Run prints the version.
func (o *VersionOptions) Run() error {
	v := versionOutput{ClientVersion: version.Get(), AgentImage: version.AgentImageRef()}
	v.Skew = version.AgentSkew(v.ClientVersion.Version, v.AgentImage)
	switch o.Output {
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding version: %w", err)
		}
		_, err = fmt.Fprintf(o.Out, "%s\n", b)
		return err
	case "yaml":
		b, err := sigsyaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding version: %w", err)
		}
		_, err = o.Out.Write(b)
		return err
	}
	ci := v.ClientVersion
	commit := ci.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if _, err := fmt.Fprintf(o.Out, "Client Version: %s (commit %s, %s, %s)\nAgent Image: %s\n",
		ci.Version, orUnknown(commit), ci.GoVersion, ci.Platform, v.AgentImage); err != nil {
		return err
	}
	if v.Skew != "" {
		fmt.Fprintln(o.ErrOut, v.Skew)
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
