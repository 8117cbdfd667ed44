package cmd

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshinsight/kubectl-meshinsight/manifests"
	"github.com/meshinsight/kubectl-meshinsight/pkg/callgraph"
	"github.com/meshinsight/kubectl-meshinsight/pkg/kube"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profilerun"
)

// Issue #13 item 9: devices and pipes named as input files are refused at
// once, not read until memory runs out.
func TestPredictRefusesFilesThatAreNoFiles(t *testing.T) {
	graph := writeFile(t, t.TempDir(), "g.yaml", "apiVersion: meshinsight.dev/v1\nkind: CallGraph\nworkloads: [{name: a}]\nedges: []\n")
	expectErrors(t, map[string]errorCase{
		"graph":   {[]string{"predict", "-f", "/dev/zero"}, `call graph "/dev/zero" is a device`},
		"profile": {[]string{"predict", "-f", graph, "--profile", "/dev/zero"}, `profile "/dev/zero" is a device`},
		"speedup": {[]string{"predict", "-f", graph, "--speedup", "/dev/zero"}, `speed-up file "/dev/zero" is a device`},
		"traces":  {[]string{"predict", "--traces", "/dev/zero"}, `trace file "/dev/zero" is a device`},
	})
}

// silentReader blocks until closed, like a pipe nobody writes to.
type silentReader struct{ closed chan struct{} }

func (s silentReader) Read([]byte) (int, error) {
	<-s.closed
	return 0, io.EOF
}

// Issue #13 item 11: cancelling (the first Ctrl-C or SIGTERM) ends offline
// work at once, even `-f -` on a silent pipe, with an error.
func TestPredictStopsWhenCancelled(t *testing.T) {
	in := silentReader{closed: make(chan struct{})}
	defer close(in.closed)
	streams := genericiooptions.IOStreams{In: in, Out: io.Discard, ErrOut: io.Discard}
	root := NewRootCommand(streams)
	root.SetArgs([]string{"predict", "-f", "-"})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
			t.Errorf("err = %v, want interrupted", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("predict -f - on a silent pipe ignored the cancellation")
	}
}

// Issue #13 item 14: a graph that predict -f would reject is not exported.
func TestExportGraphRefusesAnInvalidGraph(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cluster.yaml")
	bad := &callgraph.Graph{APIVersion: callgraph.APIVersion, Kind: callgraph.Kind,
		Workloads: []callgraph.Workload{{Name: "a", ProxyCPULimitMillicores: ptrTo(-1)}}}
	err := writeGraph(path, bad)
	if err == nil || !strings.Contains(err.Error(), "workloads[0].proxyCPULimitMillicores: must be positive") {
		t.Errorf("err = %v", err)
	}
	if _, statErr := os.Stat(path); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("an invalid graph was written: %v", statErr)
	}
}

func ptrTo[T any](v T) *T { return &v }

// Issue #13 item 13: against a server that completes TLS and then says
// nothing, every command gives up after --request-timeout, which is no
// longer unbounded by default.
func TestRequestTimeoutIsBoundedByDefault(t *testing.T) {
	root := NewRootCommand(genericiooptions.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard})
	if f := root.PersistentFlags().Lookup("request-timeout"); f == nil || f.DefValue != "30s" {
		t.Fatalf("--request-timeout default = %v, want 30s", f)
	}

	release := make(chan struct{})
	silent := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	silent.TLS = &tls.Config{}
	silent.StartTLS()
	defer silent.Close()
	defer close(release) // before Close, which waits for the handlers
	kubeconfigPath := writeFile(t, t.TempDir(), "kubeconfig", `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "`+silent.URL+`", insecure-skip-tls-verify: true}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
users: [{name: u, user: {token: t}}]
`)
	defer func(d time.Duration) { requestTimeout = d }(requestTimeout)
	requestTimeout = 300 * time.Millisecond
	start := time.Now()
	_, _, err := execute(t, "profile", "--kubeconfig", kubeconfigPath)
	t.Logf("after %v: %v", time.Since(start), err)
	if err == nil || time.Since(start) > 20*time.Second {
		t.Errorf("profile against a silent server: %v after %v", err, time.Since(start))
	}
	var ne net.Error
	if !errors.As(err, &ne) && !strings.Contains(err.Error(), "Timeout") && !strings.Contains(err.Error(), "timeout") {
		t.Errorf("err = %v, want a timeout", err)
	}
}

// Issue #13 item 17: the next run, or --clean-leftovers without a run,
// deletes the namespaces of runs that are gone and never one whose run is
// still going.
func TestCleanLeftovers(t *testing.T) {
	now := time.Now()
	ns := func(name string, annotations map[string]string, age time.Duration) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: profilerun.NamespacePrefix + name, Annotations: annotations,
			CreationTimestamp: metav1.NewTime(now.Add(-age)),
			Labels:            map[string]string{manifests.ManagedByLabel: manifests.ManagedBy, manifests.RunLabel: name}}}
	}
	beat := func(ago time.Duration) map[string]string {
		return map[string]string{profilerun.HeartbeatAnnotation: now.Add(-ago).UTC().Format(time.RFC3339)}
	}
	setup := func() (*ProfileOptions, *strings.Builder) {
		kc := profileCluster()
		for _, n := range []*corev1.Namespace{
			ns("dead", beat(time.Hour), 2*time.Hour),
			ns("live", beat(10*time.Second), time.Hour),
			ns("kept", map[string]string{profilerun.KeptAnnotation: "true"}, time.Hour),
			ns("old", nil, 48*time.Hour),
			ns("young", nil, time.Minute),
		} {
			if _, err := kc.CoreV1().Namespaces().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		errOut := &strings.Builder{}
		o := NewProfileOptions(nil, genericiooptions.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: errOut})
		o.clients = &kube.Clients{Kube: kc, Context: "lab"}
		return o, errOut
	}
	left := func(o *ProfileOptions) []string {
		list, err := o.clients.Kube.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, n := range list.Items {
			names = append(names, strings.TrimPrefix(n.Name, profilerun.NamespacePrefix))
		}
		slices.Sort(names)
		return names
	}

	o, errOut := setup()
	o.CleanLeftovers = true
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(left(o), " "); got != "live young" {
		t.Errorf("--clean-leftovers left %q, want the live run's and the young one without heartbeat\n%s", got, errOut)
	}
	if !strings.Contains(errOut.String(), "still going") || !strings.Contains(errOut.String(), "made by an older version") {
		t.Errorf("stderr does not say why namespaces were left:\n%s", errOut)
	}

	o, _ = setup()
	if err := o.handleLeftovers(context.Background(), o.clients.Kube, func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(left(o), " "); got != "kept live young" {
		t.Errorf("a run left %q, want kept, live and young (kept ones only with --clean-leftovers)", got)
	}
}

// Issue #13 item 17: a run's namespace is created with its heartbeat.
func TestProfileRunStartsItsHeartbeat(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	kc := profileCluster()
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	o := NewProfileOptions(nil, streams)
	o.clients = &kube.Clients{Kube: kc, Dynamic: dynamicfake.NewSimpleDynamicClient(runtime.NewScheme()), Context: "lab"}
	o.Node, o.Output, o.Image = "n1", "json", "example.invalid/agent:v1"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go fakeAgent(ctx, t, kc)
	if err := o.Run(ctx); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	for _, a := range kc.Actions() {
		c, ok := a.(k8stesting.CreateAction)
		if !ok || a.GetResource().Resource != "namespaces" {
			continue
		}
		ns := c.GetObject().(*corev1.Namespace)
		if beat, err := time.Parse(time.RFC3339, ns.Annotations[profilerun.HeartbeatAnnotation]); err != nil || time.Since(beat) > time.Minute {
			t.Errorf("namespace %s created with heartbeat %q", ns.Name, ns.Annotations[profilerun.HeartbeatAnnotation])
		}
		return
	}
	t.Error("no namespace was created")
}
