package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshinsight/kubectl-meshinsight/pkg/handoff"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// handoffOptions are the flags that connect an agent run to `kubectl
// meshinsight profile`.
type handoffOptions struct {
	handoff    string // NAMESPACE/NAME of the hand-off ConfigMap
	kubeconfig string
	nodeType   string
	// In-cluster measurement of injected benchmark pods.
	inCluster       bool
	targetNamespace string
	target          string
	loadTokenFile   string
}

func (h *handoffOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&h.handoff, "handoff", "", "report progress and the profile to this ConfigMap (NAMESPACE/NAME) through the API")
	f.StringVar(&h.kubeconfig, "kubeconfig", "", "kubeconfig for --handoff (default: the pod's service account)")
	f.StringVar(&h.nodeType, "node-type", "", "node type recorded in the profile (keys per-node-type profiles)")
	f.BoolVar(&h.inCluster, "in-cluster", false, "measure the injected benchmark pods of --target (deployed by kubectl meshinsight profile) instead of a local datapath")
	f.StringVar(&h.targetNamespace, "target-namespace", "", "namespace of the benchmark pods")
	f.StringVar(&h.target, "target", "", "benchmark target name (pods bench-server-TARGET, bench-client-TARGET)")
	f.StringVar(&h.loadTokenFile, "load-token-file", "", "file holding the token of the client pod's load server")
}

// reporter writes hand-off states; a nil reporter does nothing.
type reporter struct {
	kc       kubernetes.Interface
	ns, name string
	mu       sync.Mutex
	last     time.Time
}

// client connects to the API server: --kubeconfig, else the pod's service
// account.
func (h *handoffOptions) client() (kubernetes.Interface, error) {
	var cfg *rest.Config
	var err error
	if h.kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", h.kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to the API server: %w", err)
	}
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the API client: %w", err)
	}
	return kc, nil
}

func (h *handoffOptions) reporter() (*reporter, error) {
	if h.handoff == "" {
		return nil, nil
	}
	ns, name, ok := strings.Cut(h.handoff, "/")
	if !ok || ns == "" || name == "" {
		return nil, fmt.Errorf("--handoff %q: want NAMESPACE/NAME", h.handoff)
	}
	kc, err := h.client()
	if err != nil {
		return nil, fmt.Errorf("--handoff: %w", err)
	}
	return &reporter{kc: kc, ns: ns, name: name}, nil
}

// cell reports progress, at most once a second (every cell would be a
// write per second or more on a busy profile).
func (r *reporter) cell(done, total int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.last) < time.Second && done < total {
		return
	}
	r.last = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg := fmt.Sprintf("measured %d of %d cells", done, total)
	if err := handoff.Write(ctx, r.kc, r.ns, r.name, handoff.Status{State: handoff.Running, Done: done, Total: total, Message: msg}); err != nil {
		fmt.Fprintf(os.Stderr, "meshinsight-agent: %v\n", err)
	}
}

func (r *reporter) start(msg string) error {
	if r == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return handoff.Write(ctx, r.kc, r.ns, r.name, handoff.Status{State: handoff.Running, Message: msg})
}

// finish reports the outcome; it uses its own context so that a cancelled
// run still tells the CLI why.
func (r *reporter) finish(p *profile.Profile, runErr error) error {
	if r == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := handoff.Status{State: handoff.Succeeded, Profile: p, Message: "done"}
	if runErr != nil {
		st = handoff.Status{State: handoff.Failed, Message: runErr.Error()}
	}
	return handoff.Write(ctx, r.kc, r.ns, r.name, st)
}
