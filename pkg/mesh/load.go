package mesh

import (
	"context"
	"errors"
	"fmt"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// ErrIstioNotInstalled is matched (with errors.Is) by the error Load returns when
// the cluster serves none of the Istio resources it reads.
var ErrIstioNotInstalled = errors.New("Istio CRDs not found")

// NotInstalledError is the error Load returns when no Istio resource is served.
// It matches ErrIstioNotInstalled. Callers that know the kube context's name may
// set Context (via errors.As) before showing it.
type NotInstalledError struct {
	// Context is the kube context's name, when known.
	Context string
	// Missing lists the resources that are not served, e.g.
	// "peerauthentications.security.istio.io".
	Missing []string
}

// Error says what is missing and what to check.
func (e *NotInstalledError) Error() string {
	if e.Context == "" {
		return "Istio CRDs not found in the current context: is Istio installed?"
	}
	return fmt.Sprintf("Istio CRDs not found in context %q: is Istio installed?", e.Context)
}

// Is makes errors.Is(err, ErrIstioNotInstalled) true.
func (e *NotInstalledError) Is(target error) bool { return target == ErrIstioNotInstalled }

// Config is the mesh configuration that matters for overhead, read from Istio's
// resources. The zero value (and a nil *Config) holds no resources and answers
// with Istio's defaults: PERMISSIVE mTLS with auto mTLS, the default retry
// policy, no filters, everything in egress scope.
type Config struct {
	rootNamespace   string
	peerAuths       []peerAuth
	destRules       []destRule
	virtualServices []virtualService
	sidecars        []sidecarScope
	telemetries     []telemetry
	extensions      []extension
	authzPolicies   []authzPolicy
}

// Defaults returns a Config without any Istio resource: every answer is Istio's
// default behaviour. It is what callers continue with when Istio is not installed.
func Defaults(rootNamespace string) *Config {
	return &Config{rootNamespace: rootNamespace}
}

// RootNamespace is the configuration root namespace the Config was read with.
func (c *Config) RootNamespace() string {
	if c == nil || c.rootNamespace == "" {
		return DefaultRootNamespace
	}
	return c.rootNamespace
}

// orEmpty lets every method work on a nil *Config.
func (c *Config) orEmpty() *Config {
	if c == nil {
		return &Config{}
	}
	return c
}

// kind is one Istio resource kind Load reads. versions list a LIST per served
// API version, newest first: older Istio releases serve only the older ones.
type kind struct {
	plural   string // for messages: "PeerAuthentications"
	resource string // "peerauthentications.security.istio.io"
	versions []func(ctx context.Context, ns string) error
}

// Load reads the Istio resources that shape per-edge overhead: PeerAuthentication,
// DestinationRule, VirtualService, Sidecar, Telemetry, EnvoyFilter, WasmPlugin and
// AuthorizationPolicy. It makes one LIST per kind and namespace: across all
// namespaces when namespaces is empty, otherwise in each of them plus the root
// namespace (rootNamespace, default istio-system). Resources in other namespaces
// are not seen, so list every namespace the edges of interest touch (a
// DestinationRule may live in the client's or the service's namespace).
//
// When the cluster serves none of these resources, Load returns Defaults with an
// error matching ErrIstioNotInstalled; the caller can warn and go on. Kinds that
// are not served or not readable (RBAC) are reported as messages and skipped.
func Load(ctx context.Context, ic istioclient.Interface, namespaces []string, rootNamespace string) (*Config, []diag.Message, error) {
	if rootNamespace == "" {
		rootNamespace = DefaultRootNamespace
	}
	c := &Config{rootNamespace: rootNamespace}
	nss := []string{metav1.NamespaceAll}
	if len(namespaces) > 0 {
		nss = uniqueNamespaces(append(append([]string(nil), namespaces...), rootNamespace))
	}
	var notes diag.List
	var missing []string
	for _, k := range c.kinds(ic) {
		notServed, err := c.loadKind(ctx, k, nss, &notes)
		if err != nil {
			return nil, nil, err
		}
		if notServed {
			missing = append(missing, k.resource)
		}
	}
	if len(missing) == len(c.kinds(ic)) {
		return Defaults(rootNamespace), nil, &NotInstalledError{Missing: missing}
	}
	for _, r := range missing {
		notes.Add(diag.New(diag.PartialTopology, r, "the cluster does not serve %s (an older or partial Istio install); its effects are ignored", r))
	}
	c.sortResources()
	return c, notes.Sorted(), nil
}

func uniqueNamespaces(nss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, ns := range nss {
		if ns != "" && !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	return out
}

func where(ns string) string {
	if ns == metav1.NamespaceAll {
		return "all namespaces"
	}
	return fmt.Sprintf("%q", ns)
}

// loadKind lists one kind in every namespace, falling back to older API
// versions when the newest is not served. notServed is true when no version is.
func (c *Config) loadKind(ctx context.Context, k kind, nss []string, notes *diag.List) (notServed bool, err error) {
	v := 0
	for _, ns := range nss {
		for {
			err := k.versions[v](ctx, ns)
			switch {
			case err == nil:
			case apierrors.IsNotFound(err) && v+1 < len(k.versions):
				v++
				continue
			case apierrors.IsNotFound(err):
				return true, nil
			case apierrors.IsForbidden(err):
				notes.Add(diag.New(diag.PartialTopology, k.resource,
					"listing %s in %s is forbidden; their effects are ignored (check with `kubectl auth can-i list %s`)",
					k.plural, where(ns), k.resource))
			default:
				return false, fmt.Errorf("listing %s in %s: %w", k.plural, where(ns), err)
			}
			break
		}
	}
	return false, nil
}

// kinds lists the resources Load reads, each with the versions istio.io/client-go
// v1.32 offers and the CRDs serve, newest first.
func (c *Config) kinds(ic istioclient.Interface) []kind {
	opts := metav1.ListOptions{}
	return []kind{
		{"PeerAuthentications", "peerauthentications.security.istio.io", []func(context.Context, string) error{
			func(ctx context.Context, ns string) error {
				l, err := ic.SecurityV1().PeerAuthentications(ns).List(ctx, opts)
				if err != nil {
					return err
				}
				for _, o := range l.Items {
					if o != nil {
						c.peerAuths = append(c.peerAuths, convertPeerAuth(&o.ObjectMeta, &o.Spec))
					}
				}
				return nil
			},
			func(ctx context.Context, ns string) error {
				l, err := ic.SecurityV1beta1().PeerAuthentications(ns).List(ctx, opts)
				if err != nil {
					return err
				}
				for _, o := range l.Items {
					if o != nil {
						c.peerAuths = append(c.peerAuths, convertPeerAuth(&o.ObjectMeta, &o.Spec))
					}
				}
				return nil
			},
		}},
		{"DestinationRules", "destinationrules.networking.istio.io", []func(context.Context, string) error{
			func(ctx context.Context, ns string) error {
				l, err := ic.NetworkingV1().DestinationRules(ns).List(ctx, opts)
				if err != nil {
					return err
				}
				for _, o := range l.Items {
					if o != nil {
						c.destRules = append(c.destRules, convertDestRule(&o.ObjectMeta, &o.Spec))
					}
				}
				return nil
			},
			func(ctx context.Context, ns string) error {
				l, err := ic.NetworkingV1alpha3().DestinationRules(ns).List(ctx, opts)
				if err != nil {
					return err
				}
				for _, o := range l.Items {
					if o != nil {
						c.destRules = append(c.destRules, convertDestRule(&o.ObjectMeta, &o.Spec))
					}
				}
				return nil
			},
		}},
		{"VirtualServices", "virtualservices.networking.istio.io", []func(context.Context, string) error{
			func(ctx context.Context, ns string) error {
				l, err := ic.NetworkingV1().VirtualServices(ns).List(ctx, opts)
				if err != nil {
					return err
				}
				for _, o := range l.Items {
					if o != nil {
						c.virtualServices = append(c.virtualServices, convertVirtualService(&o.ObjectMeta, &o.Spec))
					}
				}
				return nil
			},
			func(ctx context.Context, ns string) error {
				l, err := ic.NetworkingV1alpha3().VirtualServices(ns).List(ctx, opts)
				if err != nil {
					return err
				}
				for _, o := range l.Items {
					if o != nil {
						c.virtualServices = append(c.virtualServices, convertVirtualService(&o.ObjectMeta, &o.Spec))
					}
				}
				return nil
			},
		}},
		{"Sidecars", "sidecars.networking.istio.io", []func(context.Context, string) error{
			func(ctx context.Context, ns string) error {
				l, err := ic.NetworkingV1().Sidecars(ns).List(ctx, opts)
				if err != nil {
					return err
				}
				for _, o := range l.Items {
					if o != nil {
						c.sidecars = append(c.sidecars, convertSidecar(&o.ObjectMeta, &o.Spec))
					}
				}
				return nil
			},
			func(ctx context.Context, ns string) error {
				l, err := ic.NetworkingV1alpha3().Sidecars(ns).List(ctx, opts)
				if err != nil {
					return err
				}
				for _, o := range l.Items {
					if o != nil {
						c.sidecars = append(c.sidecars, convertSidecar(&o.ObjectMeta, &o.Spec))
					}
				}
				return nil
			},
		}},
		{"Telemetries", "telemetries.telemetry.istio.io", []func(context.Context, string) error{
			func(ctx context.Context, ns string) error {
				l, err := ic.TelemetryV1().Telemetries(ns).List(ctx, opts)
				if err != nil {
					return err
				}
				for _, o := range l.Items {
					if o != nil {
						c.telemetries = append(c.telemetries, convertTelemetry(&o.ObjectMeta, &o.Spec))
					}
				}
				return nil
			},
			func(ctx context.Context, ns string) error {
				l, err := ic.TelemetryV1alpha1().Telemetries(ns).List(ctx, opts)
				if err != nil {
					return err
				}
				for _, o := range l.Items {
					if o != nil {
						c.telemetries = append(c.telemetries, convertTelemetry(&o.ObjectMeta, &o.Spec))
					}
				}
				return nil
			},
		}},
		{"EnvoyFilters", "envoyfilters.networking.istio.io", []func(context.Context, string) error{
			func(ctx context.Context, ns string) error {
				l, err := ic.NetworkingV1alpha3().EnvoyFilters(ns).List(ctx, opts)
				if err != nil {
					return err
				}
				for _, o := range l.Items {
					if o != nil {
						c.extensions = append(c.extensions, convertEnvoyFilter(&o.ObjectMeta, &o.Spec))
					}
				}
				return nil
			},
		}},
		{"WasmPlugins", "wasmplugins.extensions.istio.io", []func(context.Context, string) error{
			func(ctx context.Context, ns string) error {
				l, err := ic.ExtensionsV1alpha1().WasmPlugins(ns).List(ctx, opts)
				if err != nil {
					return err
				}
				for _, o := range l.Items {
					if o != nil {
						c.extensions = append(c.extensions, convertWasmPlugin(&o.ObjectMeta, &o.Spec))
					}
				}
				return nil
			},
		}},
		{"AuthorizationPolicies", "authorizationpolicies.security.istio.io", []func(context.Context, string) error{
			func(ctx context.Context, ns string) error {
				l, err := ic.SecurityV1().AuthorizationPolicies(ns).List(ctx, opts)
				if err != nil {
					return err
				}
				for _, o := range l.Items {
					if o != nil {
						c.authzPolicies = append(c.authzPolicies, convertAuthorizationPolicy(&o.ObjectMeta, &o.Spec))
					}
				}
				return nil
			},
			func(ctx context.Context, ns string) error {
				l, err := ic.SecurityV1beta1().AuthorizationPolicies(ns).List(ctx, opts)
				if err != nil {
					return err
				}
				for _, o := range l.Items {
					if o != nil {
						c.authzPolicies = append(c.authzPolicies, convertAuthorizationPolicy(&o.ObjectMeta, &o.Spec))
					}
				}
				return nil
			},
		}},
	}
}

func (c *Config) sortResources() {
	oldestFirst(c.peerAuths, func(p peerAuth) objMeta { return p.objMeta })
	oldestFirst(c.destRules, func(d destRule) objMeta { return d.objMeta })
	oldestFirst(c.virtualServices, func(v virtualService) objMeta { return v.objMeta })
	oldestFirst(c.sidecars, func(s sidecarScope) objMeta { return s.objMeta })
	oldestFirst(c.telemetries, func(t telemetry) objMeta { return t.objMeta })
	oldestFirst(c.extensions, func(e extension) objMeta { return e.objMeta })
	oldestFirst(c.authzPolicies, func(a authzPolicy) objMeta { return a.objMeta })
}

// subjectOf names a resource in messages: "PeerAuthentication bookinfo/default".
func subjectOf(kind string, m objMeta) string {
	return kind + " " + m.id()
}
