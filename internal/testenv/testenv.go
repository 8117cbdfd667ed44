// Package testenv connects integration tests to the project's real test
// control plane: kube-apiserver, etcd, kube-controller-manager,
// kube-scheduler and kwok with one fake Node, plus Istio's CRDs. It is built
// and started by hack/testenv (`make testenv`), which prints the kubeconfig
// to export as MESHINSIGHT_TESTENV_KUBECONFIG.
//
// Tests that use it carry the build tag "integration". They fail, never skip,
// when the control plane is missing: a skipped suite would pass CI without
// proving anything.
package testenv

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// KubeconfigEnv names the environment variable that holds the path of the
// test control plane's kubeconfig.
const KubeconfigEnv = "MESHINSIGHT_TESTENV_KUBECONFIG"

// KubernetesVersion is the version of the control plane that hack/testenv
// builds. It must match the k8s.io/kubernetes version in
// hack/testenv/k8s/go.mod; a unit test checks that.
const KubernetesVersion = "v1.36.3"

// FakeNodeName is the kwok-managed Node that hack/testenv/up.sh creates.
// Pods scheduled on it become Running without any container runtime.
const FakeNodeName = "kwok-node-0"

// NamespaceLabel marks namespaces created by NewNamespace, so that leftovers
// of an interrupted run are easy to find and delete.
const NamespaceLabel = "meshinsight.io/testenv"

// pollInterval is how often the wait helpers look at the cluster. kwok makes
// pods Running in well under a second, so a short interval keeps tests fast.
const pollInterval = 200 * time.Millisecond

// Kubeconfig returns the path of the test control plane's kubeconfig from
// MESHINSIGHT_TESTENV_KUBECONFIG. It fails the test when the variable is
// unset or names no file, saying how to start the control plane.
func Kubeconfig(t testing.TB) string {
	t.Helper()
	path := os.Getenv(KubeconfigEnv)
	if path == "" {
		t.Fatalf("%s is not set: start the test control plane with `make testenv` "+
			"and export the variable it prints, or run `make test-integration`", KubeconfigEnv)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s=%s: %v: is the test control plane up? run `make testenv`", KubeconfigEnv, path, err)
	}
	return path
}

// Config returns a client configuration for the test control plane, with
// rate limits raised so that client-side throttling never slows a test.
func Config(t testing.TB) *rest.Config {
	t.Helper()
	path := Kubeconfig(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("loading kubeconfig %q: %v", path, err)
	}
	cfg.QPS = 100
	cfg.Burst = 200
	cfg.UserAgent = "meshinsight-testenv"
	return cfg
}

// Client returns a typed clientset for the test control plane.
func Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	return NewClient(t, "clientset", kubernetes.NewForConfig)
}

// DynamicClient returns a dynamic client for the test control plane, for
// custom resources such as Istio's.
func DynamicClient(t testing.TB) dynamic.Interface {
	t.Helper()
	return NewClient(t, "dynamic client", dynamic.NewForConfig)
}

// NewClient returns the client (what, for the failure message) that
// newForConfig builds for the test control plane, such as Istio's
// versioned.NewForConfig.
func NewClient[C any](t testing.TB, what string, newForConfig func(*rest.Config) (C, error)) C {
	t.Helper()
	client, err := newForConfig(Config(t))
	if err != nil {
		t.Fatalf("creating %s: %v", what, err)
	}
	return client
}

// NewNamespace creates a uniquely named namespace for the test, waits until
// its default ServiceAccount exists (pods cannot be created before), and
// deletes it when the test ends. It returns the namespace's name.
func NewNamespace(t testing.TB, client kubernetes.Interface) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ns, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: namespacePrefix(t.Name()),
			Labels:       map[string]string{NamespaceLabel: "true"},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating test namespace: %v", err)
	}
	name := ns.Name
	t.Cleanup(func() {
		// The test's own context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting test namespace %q: %v", name, err)
		}
	})

	err = wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		t.Fatalf("waiting for the default ServiceAccount in namespace %q: %v", name, err)
	}
	return name
}

var notDNSLabel = regexp.MustCompile(`[^a-z0-9-]+`)

// namespacePrefix turns a test name into a GenerateName prefix: a DNS label
// short enough to leave room for the generated suffix.
func namespacePrefix(testName string) string {
	prefix := notDNSLabel.ReplaceAllString(strings.ToLower(testName), "-")
	if len(prefix) > 40 {
		prefix = prefix[:40]
	}
	prefix = strings.Trim(prefix, "-")
	if prefix == "" {
		prefix = "test"
	}
	return prefix + "-"
}

// WaitForPodsRunning waits until at least n pods in namespace ns that match
// the label selector are Running and not being deleted, and returns them.
// It gives up when ctx ends, reporting the pods it last saw.
func WaitForPodsRunning(ctx context.Context, client kubernetes.Interface, ns, selector string, n int) ([]corev1.Pod, error) {
	var running []corev1.Pod
	var last []string
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, fmt.Errorf("listing pods: %w", err)
		}
		running, last = running[:0], last[:0]
		for _, pod := range pods.Items {
			last = append(last, fmt.Sprintf("%s=%s", pod.Name, pod.Status.Phase))
			if pod.Status.Phase == corev1.PodRunning && pod.DeletionTimestamp == nil {
				running = append(running, pod)
			}
		}
		return len(running) >= n, nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for %d running pods matching %q in namespace %q (saw %v): %w",
			n, selector, ns, last, err)
	}
	return running, nil
}
