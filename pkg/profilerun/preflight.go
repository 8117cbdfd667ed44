package profilerun

import (
	"context"
	"fmt"
	"strings"

	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Permission is one verb on one resource that a run needs.
type Permission struct {
	Verb, Group, Resource, Namespace string
	// Why is shown when the permission is missing.
	Why string
}

// String renders the permission for people: verb, resource (with its
// group) and where ("list nodes cluster-wide").
func (p Permission) String() string {
	r := p.Resource
	if p.Group != "" {
		r += "." + p.Group
	}
	where := "cluster-wide"
	if p.Namespace != "" {
		where = "in namespace " + p.Namespace
	}
	return fmt.Sprintf("%s %s %s", p.Verb, r, where)
}

// Permissions lists what a run in namespace ns needs; with saveNS set, also
// writing the shared profile ConfigMap there.
func Permissions(ns, saveNS string) []Permission {
	ps := []Permission{
		{"list", "", "nodes", "", "choose the node to profile"},
		{"list", "apps", "deployments", "", "find istiod"},
		{"list", "", "namespaces", "", "find leftovers of earlier runs"},
		{"create", "", "namespaces", "", "create the ephemeral namespace"},
		{"delete", "", "namespaces", "", "delete the ephemeral namespace afterwards"},
		{"patch", "", "namespaces", "", "renew the run's heartbeat, which keeps other runs from deleting its namespace"},
		{"create", "", "serviceaccounts", ns, "the agent's identity"},
		{"create", "", "secrets", ns, "the token of the agent's load jobs"},
		{"create", "rbac.authorization.k8s.io", "roles", ns, "let the agent write its result"},
		{"create", "rbac.authorization.k8s.io", "rolebindings", ns, "let the agent write its result"},
		{"create", "", "pods", ns, "the benchmark server and client"},
		{"get", "", "pods", ns, "let the agent find the benchmark pods"},
		{"create", "", "services", ns, "the benchmark Services (mTLS and plaintext)"},
		{"get", "", "services", ns, "let the agent find the benchmark Services"},
		{"create", "networking.istio.io", "destinationrules", ns, "turn mTLS off for the plaintext Service"},
		{"create", "security.istio.io", "peerauthentications", ns, "allow plaintext in the run's namespace"},
		{"list", "", "pods", ns, "watch the pods start"},
		{"create", "batch", "jobs", ns, "the agent"},
		{"list", "batch", "jobs", ns, "watch the agent"},
		// Granting a Role needs the granted permissions (RBAC escalation check).
		{"get", "", "configmaps", ns, "read the agent's result"},
		{"list", "", "configmaps", ns, "read the agent's result"},
		{"create", "", "configmaps", ns, "grant the agent its result ConfigMap"},
		{"update", "", "configmaps", ns, "grant the agent its result ConfigMap"},
	}
	if saveNS != "" {
		ps = append(ps, SavePermissions(saveNS)...)
	}
	return ps
}

// SavePermissions are what --save-to-cluster needs in Istio's namespace.
func SavePermissions(ns string) []Permission {
	return []Permission{
		{"get", "", "configmaps", ns, "--save-to-cluster"},
		{"create", "", "configmaps", ns, "--save-to-cluster"},
		{"update", "", "configmaps", ns, "--save-to-cluster"},
	}
}

// MissingPermissionsError lists every permission the user lacks.
type MissingPermissionsError struct {
	Missing []Permission
}

// Error lists every missing permission with what it is needed for.
func (e *MissingPermissionsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "your credentials lack %d permission(s) that profiling needs:", len(e.Missing))
	for _, p := range e.Missing {
		fmt.Fprintf(&b, "\n  - %s (to %s)", p, p.Why)
	}
	b.WriteString("\nask a cluster admin to grant them, or check one with `kubectl auth can-i VERB RESOURCE`")
	return b.String()
}

// CheckAccess asks the API server, one SelfSubjectAccessReview per
// permission, whether the current user may do everything in ps, and
// returns a *MissingPermissionsError listing all that are denied.
func CheckAccess(ctx context.Context, kube kubernetes.Interface, ps []Permission) error {
	var missing []Permission
	for _, p := range ps {
		r, err := kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authv1.SelfSubjectAccessReview{
			Spec: authv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authv1.ResourceAttributes{
				Verb: p.Verb, Group: p.Group, Resource: p.Resource, Namespace: p.Namespace,
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("checking permission to %s: %w", p, err)
		}
		if !r.Status.Allowed {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return &MissingPermissionsError{Missing: missing}
	}
	return nil
}
