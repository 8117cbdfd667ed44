package profilerun

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// Issue #13 item 17: what a namespace's annotations say about its run.
func TestJudgeLeftovers(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	at := func(ago time.Duration) string { return now.Add(-ago).Format(time.RFC3339) }
	for _, c := range []struct {
		name        string
		annotations map[string]string
		age         time.Duration
		want        LeftoverState
	}{
		{"fresh heartbeat", map[string]string{HeartbeatAnnotation: at(time.Minute)}, time.Hour, Live},
		{"heartbeat at the window", map[string]string{HeartbeatAnnotation: at(HeartbeatWindow)}, time.Hour, Live},
		{"heartbeat stopped", map[string]string{HeartbeatAnnotation: at(HeartbeatWindow + time.Second)}, time.Hour, Stale},
		{"kept", map[string]string{HeartbeatAnnotation: at(time.Hour), KeptAnnotation: "true"}, time.Hour, Kept},
		{"no heartbeat, young", nil, time.Hour, Unknown},
		{"no heartbeat, a day old", nil, LegacyWindow + time.Minute, Stale},
		{"unreadable heartbeat", map[string]string{HeartbeatAnnotation: "soon"}, time.Hour, Unknown},
	} {
		n := corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: NamespacePrefix + "x", Annotations: c.annotations,
			CreationTimestamp: metav1.NewTime(now.Add(-c.age))}}
		if got := judge(n, now).State; got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func runNamespace() *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: NamespacePrefix + "abc"}}
}

// The heartbeat is renewed every interval until the run ends.
func TestHeartbeatIsRenewed(t *testing.T) {
	kc := fake.NewSimpleClientset(runNamespace())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	heartbeat(ctx, kc, NamespacePrefix+"abc", 10*time.Millisecond, func(err error) { t.Errorf("failed: %v", err) })
	patches := 0
	for _, a := range kc.Actions() {
		if a.GetVerb() == "patch" && a.GetResource().Resource == "namespaces" {
			patches++
		}
	}
	if patches < 5 {
		t.Errorf("%d renewals in 200ms at a 10ms interval", patches)
	}
	ns, err := kc.CoreV1().Namespaces().Get(context.Background(), NamespacePrefix+"abc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if beat, err := time.Parse(time.RFC3339, ns.Annotations[HeartbeatAnnotation]); err != nil || time.Since(beat) > time.Minute {
		t.Errorf("heartbeat %q: %v", ns.Annotations[HeartbeatAnnotation], err)
	}
}

// A run that cannot renew its heartbeat stops: another run would soon
// take its namespace for a leftover.
func TestHeartbeatFailureStopsTheRun(t *testing.T) {
	kc := fake.NewSimpleClientset(runNamespace())
	kc.PrependReactor("patch", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("forbidden")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	var got error
	heartbeat(ctx, kc, NamespacePrefix+"abc", 5*time.Millisecond, func(err error) { mu.Lock(); got = err; mu.Unlock() })
	mu.Lock()
	defer mu.Unlock()
	if !errors.Is(got, errHeartbeat) || ctx.Err() != nil {
		t.Errorf("err = %v (context: %v), want the heartbeat's failure well before the deadline", got, ctx.Err())
	}
}
