package profilerun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/manifests"
)

// NamespacePrefix starts the name of every ephemeral namespace.
const NamespacePrefix = "meshinsight-profile-"

// Config is one `kubectl meshinsight profile` run.
type Config struct {
	// Node names the node to profile; empty means choose one.
	Node string
	// NodeSelector narrows the candidate nodes (a label selector).
	NodeSelector string
	// AllNodeTypes profiles one node per node type.
	AllNodeTypes bool
	// IstioNamespace is where istiod runs; empty means search all.
	IstioNamespace string
	// SaveToCluster also checks write access to the shared ConfigMap.
	SaveToCluster bool
	// Image is the agent image.
	Image string
	// ImagePullPolicy is the pods' pull policy for Image; empty leaves the
	// cluster's default.
	ImagePullPolicy string
	// Version is the CLI version, recorded on the namespace.
	Version string
	// Timeout bounds the whole run; the pods' activeDeadlineSeconds is
	// derived from it.
	Timeout time.Duration
	// Concurrency bounds how many nodes are profiled at once; zero means 2.
	Concurrency int
	// AgentArgs are extra measurement flags passed to every agent.
	AgentArgs []string
}

// Plan is a checked run: what will be created, where.
type Plan struct {
	Params manifests.Params
	Istio  *Istio
	Nodes  []Node
	// Notes are things the user should know (skipped nodes, not Ready …).
	Notes []string
}

var dnsUnsafe = regexp.MustCompile(`[^a-z0-9-]+`)

// NewPlan runs the preflight: Istio, nodes, then access for the exact
// namespace names. It creates nothing.
func NewPlan(ctx context.Context, kc kubernetes.Interface, cfg Config) (*Plan, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	id, token, err := runIDs()
	if err != nil {
		return nil, err
	}
	// Access first: a user without it gets the full list of what is
	// missing rather than the first forbidden call.
	if err := CheckAccess(ctx, kc, Permissions(NamespacePrefix+id, "")); err != nil {
		return nil, err
	}
	istio, err := DetectIstio(ctx, kc, cfg.IstioNamespace)
	if err != nil {
		return nil, err
	}
	if cfg.SaveToCluster {
		if err := CheckAccess(ctx, kc, SavePermissions(istio.Namespace)); err != nil {
			return nil, err
		}
	}
	nodes, notes, err := ChooseNodes(ctx, kc, cfg.Node, cfg.NodeSelector, cfg.AllNodeTypes)
	if err != nil {
		return nil, err
	}
	p := newPlan(cfg, istio, nodes, id, token)
	p.Notes = notes
	return p, nil
}

// check validates what a plan needs from cfg, before any I/O.
func (cfg Config) check() error {
	if cfg.Image == "" {
		return fmt.Errorf("no agent image: pass --image")
	}
	if cfg.Timeout <= 0 {
		return fmt.Errorf("timeout %v: want a positive duration", cfg.Timeout)
	}
	return nil
}

// runIDs returns a new run id (the namespace's suffix) and load token.
func runIDs() (id, token string, err error) {
	if id, err = randomID(); err != nil {
		return "", "", err
	}
	if token, err = randomHex(16); err != nil {
		return "", "", fmt.Errorf("generating the load token: %w", err)
	}
	return id, token, nil
}

// newPlan lays out the objects of run id on nodes, for istio.
func newPlan(cfg Config, istio *Istio, nodes []Node, id, token string) *Plan {
	p := &Plan{Istio: istio, Nodes: nodes, Params: manifests.Params{
		Namespace: NamespacePrefix + id, RunID: id, LoadToken: token, Image: cfg.Image, ImagePullPolicy: cfg.ImagePullPolicy, Version: cfg.Version,
		Ambient: istio.Ambient, DeadlineSeconds: int64(cfg.Timeout.Seconds()) + 60,
	}}
	if istio.Revision != "default" {
		p.Params.Revision = istio.Revision
	}
	used := map[string]int{}
	for _, n := range nodes {
		name := strings.Trim(dnsUnsafe.ReplaceAllString(strings.ToLower(n.Name), "-"), "-")
		if len(name) > 40 {
			name = strings.Trim(name[:40], "-")
		}
		if used[name]++; used[name] > 1 {
			name = fmt.Sprintf("%s-%d", name, used[name])
		}
		p.Params.Targets = append(p.Params.Targets, manifests.Target{
			Name: name, Node: n.Name, NodeType: n.NodeType, Handoff: "result-" + name, AgentArgs: cfg.AgentArgs,
		})
	}
	return p
}

// Manifests renders the plan's objects as one YAML stream.
func (p *Plan) Manifests() ([]byte, error) { return manifests.Render(p.Params) }

func randomID() (string, error) {
	id, err := randomHex(3)
	if err != nil {
		return "", fmt.Errorf("generating a run id: %w", err)
	}
	return id, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
