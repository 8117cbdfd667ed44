package manifests

import (
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func params() Params {
	return Params{Namespace: "meshinsight-profile-abc123", RunID: "abc123", Image: "example.invalid/agent:v1", Version: "v1",
		DeadlineSeconds: 660, Targets: []Target{
			{Name: "node-a", Node: "node-a", NodeType: "m5.large", Handoff: "result-node-a", AgentArgs: []string{"--rates=500"}},
			{Name: "node-b", Node: "node-b", NodeType: "c6g.xlarge", Handoff: "result-node-b"},
		}}
}

// render is what Render makes of params() changed by edit.
func render(t *testing.T, edit func(*Params)) string {
	t.Helper()
	p := params()
	edit(&p)
	out, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestRenderEveryDocumentParses(t *testing.T) {
	out := render(t, func(*Params) {})
	kinds := map[string]int{}
	for _, doc := range strings.Split(out, "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("document does not parse: %v\n%s", err, doc)
		}
		if m == nil {
			continue
		}
		kinds[m["kind"].(string)]++
		md := m["metadata"].(map[string]any)
		labels, _ := md["labels"].(map[string]any)
		if labels[ManagedByLabel] != ManagedBy || labels[RunLabel] != "abc123" {
			t.Errorf("%s %s lacks the run labels: %v", m["kind"], md["name"], labels)
		}
	}
	want := map[string]int{"Namespace": 1, "ServiceAccount": 1, "Role": 1, "RoleBinding": 1, "Pod": 4, "Job": 2,
		"Service": 4, "DestinationRule": 2, "PeerAuthentication": 1, "Secret": 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
}

// Values that YAML would read as numbers or that need escaping stay
// strings: run ids are random hex ("123456" happens), node names and types
// are the cluster's.
func TestRenderQuotesValues(t *testing.T) {
	out := render(t, func(p *Params) {
		p.RunID = "123456"
		p.Targets = []Target{{Name: "0042", Node: "0042", NodeType: `odd: "type" # x`, Handoff: "result-0042"}}
	})
	for _, doc := range strings.Split(out, "\n---\n") {
		var m struct {
			Metadata struct{ Labels map[string]string }
			Spec     struct {
				NodeName string
				Template struct {
					Metadata struct{ Labels map[string]string }
				}
			}
		}
		// As the API machinery decodes: YAML to JSON without looking at
		// the target type (sigs.k8s.io/yaml.Unmarshal would coerce).
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(j, &m); err != nil {
			t.Fatalf("a label or node name is not a string: %v\n%s", err, doc)
		}
	}
	if !strings.Contains(out, `"--node-type=odd: \"type\" # x"`) {
		t.Errorf("node type not quoted in the agent's args:\n%s", out)
	}
}

func TestAgentIsLeastPrivileged(t *testing.T) {
	out, err := RenderFile("agent.yaml", params())
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{`drop: ["ALL"]`, "readOnlyRootFilesystem: true", "hostPID: true", "activeDeadlineSeconds: 660",
		"backoffLimit: 0", `nodeName: "node-a"`, `"--handoff=meshinsight-profile-abc123/result-node-a"`, `"--node-type=m5.large"`, `"--rates=500"`,
		`sidecar.istio.io/inject: "false"`, "allowPrivilegeEscalation: false", "seccompProfile: {type: RuntimeDefault}"} {
		if !strings.Contains(s, want) {
			t.Errorf("agent manifest lacks %q", want)
		}
	}
	// Capabilities the real-node suite showed unnecessary (NET_ADMIN,
	// SYS_RESOURCE; SYS_ADMIN since the client pod runs the load), or that
	// no agent needs (the rest of a privileged set).
	for _, bad := range []string{"privileged: true", "hostNetwork", "NET_ADMIN", "SYS_RESOURCE", "- SYS_ADMIN", "DAC_", "SETUID", "imagePullPolicy"} {
		if strings.Contains(s, bad) {
			t.Errorf("agent manifest asks for %q", bad)
		}
	}
}

func TestNamesMatchTheAgent(t *testing.T) {
	out := render(t, func(*Params) {})
	for _, name := range []string{ServerPod("node-a"), ClientPod("node-b"), Service("node-a", true), Service("node-b", false), "--target=node-a"} {
		if !strings.Contains(out, name) {
			t.Errorf("manifests do not use %q, the name the agent looks for", name)
		}
	}
}

func TestNamespaceEnrolment(t *testing.T) {
	for _, tc := range []struct {
		p    func(*Params)
		want string
	}{
		{func(*Params) {}, "istio-injection: enabled"},
		{func(p *Params) { p.Revision = "canary" }, `istio.io/rev: "canary"`},
		{func(p *Params) { p.Ambient = true }, "istio.io/dataplane-mode: ambient"},
	} {
		p := params()
		tc.p(&p)
		out, err := RenderFile("namespace.yaml", p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "pod-security.kubernetes.io/enforce: privileged") {
			t.Errorf("namespace lacks %q:\n%s", tc.want, out)
		}
	}
}

func TestImagePullPolicy(t *testing.T) {
	out := render(t, func(p *Params) { p.ImagePullPolicy = "Never" })
	// The agent Job and both benchmark pods' three containers, per target.
	if got := strings.Count(out, "imagePullPolicy: Never"); got != 2*4 {
		t.Errorf("%d containers with imagePullPolicy Never, want 8", got)
	}
}

func TestLoadToken(t *testing.T) {
	s := render(t, func(p *Params) { p.LoadToken = "0123abcd" })
	// In the Secret only; the client and the agent mount it.
	if strings.Count(s, "0123abcd") != 1 || strings.Count(s, "secretName: "+LoadTokenSecret) != 2*2 {
		t.Errorf("the token must be in one Secret mounted by each target's client and agent:\n%s", s)
	}
	if !strings.Contains(s, `excludeInboundPorts: "9092"`) {
		t.Error("the client's load port is intercepted")
	}
}
