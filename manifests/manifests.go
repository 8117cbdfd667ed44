// Package manifests holds the Kubernetes objects `kubectl meshinsight
// profile` creates, as text/template YAML files embedded in the binary, so
// that `--dry-run` prints exactly what a run would apply and a reviewer can
// read every privilege the profiler asks for in one place.
package manifests

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
)

//go:embed *.yaml
var files embed.FS

// Files are the templates in the order they are applied.
var Files = []string{"namespace.yaml", "rbac.yaml", "services.yaml", "bench.yaml", "agent.yaml"}

// Params fill the templates.
type Params struct {
	// Namespace is the ephemeral namespace (meshinsight-profile-<random>).
	Namespace string
	// RunID labels every object of one run.
	RunID string
	// Image is the agent image; the benchmark pods run it too.
	Image string
	// LoadToken authorises the agent's load jobs at the client pod's load
	// server (random per run).
	LoadToken string
	// ImagePullPolicy is the containers' pull policy for Image; empty
	// leaves the cluster's default.
	ImagePullPolicy string
	// Version is the CLI version, recorded as a label.
	Version string
	// Ambient enrols the namespace in ambient mode instead of sidecar
	// injection.
	Ambient bool
	// Revision is the Istio revision to inject with; empty means the
	// default revision.
	Revision string
	// DeadlineSeconds bounds every pod (activeDeadlineSeconds).
	DeadlineSeconds int64
	// Targets are the nodes to profile, one benchmark pair and agent Job each.
	Targets []Target
}

// Target is one node to profile.
type Target struct {
	// Name is a DNS-label-safe suffix unique within the run.
	Name string
	// Node is the node name the pods are pinned to.
	Node string
	// NodeType keys the resulting profile.
	NodeType string
	// Handoff is the ConfigMap the agent writes the profile into.
	Handoff string
	// AgentArgs are the agent's measurement flags.
	AgentArgs []string
}

// Labels every object carries; the CLI finds leftovers by them.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedBy      = "kubectl-meshinsight"
	RunLabel       = "meshinsight.dev/run"
	ComponentLabel = "app.kubernetes.io/component"
	TargetLabel    = "meshinsight.dev/target"
)

// Ports of the benchmark server: the HTTP and TCP echo servers listen on
// a port the sidecars intercept and on a bypass port excluded from
// interception on both sides (the A/B baseline on the same pods).
const (
	MeshPort         = 8080
	BypassPort       = 9090
	TCPMeshPort      = 8081
	TCPBypassPort    = 9091
	ExcludedPortList = "9090,9091"
	// LoadPort is the client pod's load server, excluded from inbound
	// interception: the agent, outside the mesh, sends it load jobs.
	LoadPort = 9092
)

// The run's load token: a Secret mounted into the client pod (its load
// server requires it) and the agent (which presents it).
const (
	LoadTokenSecret = "meshinsight-load"
	LoadTokenDir    = "/var/run/meshinsight"
	LoadTokenKey    = "token"
)

// Names of a target's objects; the agent derives them from --target.
func ServerPod(target string) string { return "bench-server-" + target }

// ClientPod is the benchmark client pod of a target.
func ClientPod(target string) string { return "bench-client-" + target }

// Service is the benchmark Service of a target whose calls use mTLS (the
// mesh default) or, with mtls false, plaintext (a DestinationRule of the
// same name disables TLS for it).
func Service(target string, mtls bool) string {
	if mtls {
		return "bench-mtls-" + target
	}
	return "bench-plain-" + target
}

// Render executes every template with p and returns one multi-document YAML
// stream in apply order.
func Render(p Params) ([]byte, error) {
	var out bytes.Buffer
	for i, name := range Files {
		b, err := RenderFile(name, p)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out.WriteString("---\n")
		}
		out.Write(b)
	}
	return out.Bytes(), nil
}

// RenderFile executes one template.
func RenderFile(name string, p Params) ([]byte, error) {
	t, err := template.New(name).Funcs(template.FuncMap{
		"quote":     func(s string) string { return fmt.Sprintf("%q", s) },
		"join":      strings.Join,
		"serverPod": ServerPod,
		"clientPod": ClientPod,
		"service":   Service,
		"list":      func(v ...bool) []bool { return v },
	}).Option("missingkey=error").ParseFS(files, name)
	if err != nil {
		return nil, fmt.Errorf("parsing manifest template %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, map[string]any{
		"P": p, "MeshPort": MeshPort, "BypassPort": BypassPort, "TCPMeshPort": TCPMeshPort, "TCPBypassPort": TCPBypassPort,
		"Excluded": ExcludedPortList, "LoadPort": LoadPort,
		"LoadTokenSecret": LoadTokenSecret, "LoadTokenDir": LoadTokenDir, "LoadTokenKey": LoadTokenKey,
		"ManagedByLabel": ManagedByLabel, "ManagedBy": ManagedBy, "RunLabel": RunLabel,
		"ComponentLabel": ComponentLabel, "TargetLabel": TargetLabel,
	}); err != nil {
		return nil, fmt.Errorf("rendering manifest %s: %w", name, err)
	}
	return b.Bytes(), nil
}
