package profilerun

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/meshinsight/kubectl-meshinsight/pkg/imageref"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Istio is what the profiler needs to know about the installed mesh.
type Istio struct {
	// Namespace of istiod.
	Namespace string
	// Version is istiod's image tag.
	Version string
	// Revision is the istio.io/rev label, "default" when absent.
	Revision string
	// ProxyImage is the sidecar image of that version (proxyv2).
	ProxyImage string
	// Ambient is true when a ztunnel DaemonSet runs beside istiod.
	Ambient bool
}

// ErrIstioNotFound is returned when no istiod Deployment exists.
var ErrIstioNotFound = errors.New("istiod not found")

// DetectIstio finds istiod: Deployments labelled app=istiod, in namespace
// ns or, when ns is empty, in any namespace. With several revisions, the
// default one (no istio.io/rev label or "default") wins, then the first by
// name.
func DetectIstio(ctx context.Context, kube kubernetes.Interface, ns string) (*Istio, error) {
	deps, err := kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=istiod"})
	if err != nil {
		return nil, fmt.Errorf("looking for istiod: %w", err)
	}
	if len(deps.Items) == 0 {
		where := "any namespace"
		if ns != "" {
			where = "namespace " + ns
		}
		return nil, fmt.Errorf("%w in %s (no Deployment labelled app=istiod): install Istio first, or pass --istio-namespace", ErrIstioNotFound, where)
	}
	items := deps.Items
	sort.Slice(items, func(i, j int) bool {
		ri, rj := items[i].Labels["istio.io/rev"], items[j].Labels["istio.io/rev"]
		di, dj := ri == "" || ri == "default", rj == "" || rj == "default"
		if di != dj {
			return di
		}
		return items[i].Namespace+"/"+items[i].Name < items[j].Namespace+"/"+items[j].Name
	})
	d := items[0]
	is := &Istio{Namespace: d.Namespace, Revision: d.Labels["istio.io/rev"]}
	if is.Revision == "" {
		is.Revision = "default"
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "discovery" || len(d.Spec.Template.Spec.Containers) == 1 {
			ref := imageref.Parse(c.Image)
			is.Version = ref.PulledTag()
			is.ProxyImage = ref.Sibling("proxyv2").String()
		}
	}
	if v, ok := d.Labels["operator.istio.io/version"]; ok && is.Version == "" {
		is.Version = v
	}
	_, err = kube.AppsV1().DaemonSets(d.Namespace).Get(ctx, "ztunnel", metav1.GetOptions{})
	switch {
	case err == nil:
		is.Ambient = true
	case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
	default:
		return nil, fmt.Errorf("looking for ztunnel in %s: %w", d.Namespace, err)
	}
	return is, nil
}
