package mesh

import (
	"context"
	"errors"
	"fmt"

	netapi "istio.io/api/networking/v1alpha3"
	secapi "istio.io/api/security/v1beta1"
	telapi "istio.io/api/telemetry/v1alpha1"
	extv1alpha1 "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	netv1 "istio.io/client-go/pkg/apis/networking/v1"
	netv1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"
	secv1 "istio.io/client-go/pkg/apis/security/v1"
	secv1beta1 "istio.io/client-go/pkg/apis/security/v1beta1"
	telv1 "istio.io/client-go/pkg/apis/telemetry/v1"
	telv1alpha1 "istio.io/client-go/pkg/apis/telemetry/v1alpha1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

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
	versions []lister
}

// lister lists one kind, in one API version, in a namespace (all namespaces
// for metav1.NamespaceAll) into the Config.
type lister func(ctx context.Context, ns string) error

// listed makes the lister of one API version of a kind: client is the
// typed client's namespaced getter (ic.SecurityV1().PeerAuthentications),
// and add stores one listed object into the Config.
func listed[L runtime.Object, C interface {
	List(context.Context, metav1.ListOptions) (L, error)
}, O any, P interface {
	*O
	runtime.Object
}](client func(ns string) C, add func(P)) lister {
	return func(ctx context.Context, ns string) error {
		l, err := client(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		return meta.EachListItem(l, func(obj runtime.Object) error {
			if o, ok := obj.(P); ok && o != nil {
				add(o)
			}
			return nil
		})
	}
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
	peerAuth := func(m *metav1.ObjectMeta, s *secapi.PeerAuthentication) {
		c.peerAuths = append(c.peerAuths, convertPeerAuth(m, s))
	}
	destRule := func(m *metav1.ObjectMeta, s *netapi.DestinationRule) {
		c.destRules = append(c.destRules, convertDestRule(m, s))
	}
	virtualService := func(m *metav1.ObjectMeta, s *netapi.VirtualService) {
		c.virtualServices = append(c.virtualServices, convertVirtualService(m, s))
	}
	sidecar := func(m *metav1.ObjectMeta, s *netapi.Sidecar) { c.sidecars = append(c.sidecars, convertSidecar(m, s)) }
	telemetry := func(m *metav1.ObjectMeta, s *telapi.Telemetry) {
		c.telemetries = append(c.telemetries, convertTelemetry(m, s))
	}
	authz := func(m *metav1.ObjectMeta, s *secapi.AuthorizationPolicy) {
		c.authzPolicies = append(c.authzPolicies, convertAuthorizationPolicy(m, s))
	}
	return []kind{
		{"PeerAuthentications", "peerauthentications.security.istio.io", []lister{
			listed(ic.SecurityV1().PeerAuthentications, func(o *secv1.PeerAuthentication) { peerAuth(&o.ObjectMeta, &o.Spec) }),
			listed(ic.SecurityV1beta1().PeerAuthentications, func(o *secv1beta1.PeerAuthentication) { peerAuth(&o.ObjectMeta, &o.Spec) }),
		}},
		{"DestinationRules", "destinationrules.networking.istio.io", []lister{
			listed(ic.NetworkingV1().DestinationRules, func(o *netv1.DestinationRule) { destRule(&o.ObjectMeta, &o.Spec) }),
			listed(ic.NetworkingV1alpha3().DestinationRules, func(o *netv1alpha3.DestinationRule) { destRule(&o.ObjectMeta, &o.Spec) }),
		}},
		{"VirtualServices", "virtualservices.networking.istio.io", []lister{
			listed(ic.NetworkingV1().VirtualServices, func(o *netv1.VirtualService) { virtualService(&o.ObjectMeta, &o.Spec) }),
			listed(ic.NetworkingV1alpha3().VirtualServices, func(o *netv1alpha3.VirtualService) { virtualService(&o.ObjectMeta, &o.Spec) }),
		}},
		{"Sidecars", "sidecars.networking.istio.io", []lister{
			listed(ic.NetworkingV1().Sidecars, func(o *netv1.Sidecar) { sidecar(&o.ObjectMeta, &o.Spec) }),
			listed(ic.NetworkingV1alpha3().Sidecars, func(o *netv1alpha3.Sidecar) { sidecar(&o.ObjectMeta, &o.Spec) }),
		}},
		{"Telemetries", "telemetries.telemetry.istio.io", []lister{
			listed(ic.TelemetryV1().Telemetries, func(o *telv1.Telemetry) { telemetry(&o.ObjectMeta, &o.Spec) }),
			listed(ic.TelemetryV1alpha1().Telemetries, func(o *telv1alpha1.Telemetry) { telemetry(&o.ObjectMeta, &o.Spec) }),
		}},
		{"EnvoyFilters", "envoyfilters.networking.istio.io", []lister{
			listed(ic.NetworkingV1alpha3().EnvoyFilters, func(o *netv1alpha3.EnvoyFilter) {
				c.extensions = append(c.extensions, convertEnvoyFilter(&o.ObjectMeta, &o.Spec))
			}),
		}},
		{"WasmPlugins", "wasmplugins.extensions.istio.io", []lister{
			listed(ic.ExtensionsV1alpha1().WasmPlugins, func(o *extv1alpha1.WasmPlugin) {
				c.extensions = append(c.extensions, convertWasmPlugin(&o.ObjectMeta, &o.Spec))
			}),
		}},
		{"AuthorizationPolicies", "authorizationpolicies.security.istio.io", []lister{
			listed(ic.SecurityV1().AuthorizationPolicies, func(o *secv1.AuthorizationPolicy) { authz(&o.ObjectMeta, &o.Spec) }),
			listed(ic.SecurityV1beta1().AuthorizationPolicies, func(o *secv1beta1.AuthorizationPolicy) { authz(&o.ObjectMeta, &o.Spec) }),
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
