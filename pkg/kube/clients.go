package kube

import (
	"fmt"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Clients are the API clients of one kube context, built once from
// kubectl's flags (a RESTClientGetter) and shared by everything a command
// reads: topology, Istio resources, telemetry, stored profiles.
type Clients struct {
	// Config reaches services through the API server's proxy (Prometheus).
	Config  *rest.Config
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	// Istio reads Istio's resources; it knows their types, not what they
	// mean (that is pkg/mesh's job).
	Istio istioclient.Interface
	// Context names the kube context, for messages and the profile store.
	Context string
	// Namespace is -n, else the context's namespace, else "default".
	Namespace string
}

// KubeconfigHint is what to do when the kubeconfig cannot be loaded.
const KubeconfigHint = "use --kubeconfig or --context"

// NewClients builds the clients of the context getter points at. It reads
// the kubeconfig but does not contact the API server. hint ends the error
// when the kubeconfig cannot be loaded: KubeconfigHint, or the command's own
// advice.
func NewClients(getter genericclioptions.RESTClientGetter, hint string) (*Clients, error) {
	cfg, err := getter.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w (%s)", err, hint)
	}
	ns, _, err := getter.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, fmt.Errorf("resolving the namespace: %w", err)
	}
	c := &Clients{Config: cfg, Context: ContextName(getter), Namespace: ns}
	if c.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("creating Kubernetes client: %w", err)
	}
	if c.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("creating dynamic client: %w", err)
	}
	if c.Istio, err = istioclient.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("creating Istio client: %w", err)
	}
	return c, nil
}

// ContextName is the kube context getter points at: --context, else the
// kubeconfig's current context, else "" (no kubeconfig).
func ContextName(getter genericclioptions.RESTClientGetter) string {
	if f, ok := getter.(*genericclioptions.ConfigFlags); ok && f.Context != nil && *f.Context != "" {
		return *f.Context
	}
	raw, err := getter.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return ""
	}
	return raw.CurrentContext
}
