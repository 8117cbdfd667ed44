package profilerun

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/manifests"
)

// A run's namespace allows privileged pods, so one left behind by a killed
// run must not stay, while the namespace of a run still going (another
// user's, or another terminal's) must never be touched. A run says it is
// alive by renewing an annotation on its namespace, its heartbeat, every
// HeartbeatInterval; a namespace whose heartbeat is older than
// HeartbeatWindow belongs to a run that is gone. The window is ten
// intervals, so that a few failed renewals and clocks a few minutes apart
// do not make a live run look dead.
const (
	// HeartbeatAnnotation holds the time of the run's latest heartbeat
	// (RFC 3339, UTC).
	HeartbeatAnnotation = "meshinsight.dev/heartbeat"
	// KeptAnnotation marks a namespace left on purpose (--keep).
	KeptAnnotation = "meshinsight.dev/kept"
	// HeartbeatInterval is how often a run renews its heartbeat.
	HeartbeatInterval = 30 * time.Second
	// HeartbeatWindow is how old a heartbeat may be before its run counts
	// as gone.
	HeartbeatWindow = 10 * HeartbeatInterval
	// LegacyWindow is how old a namespace without a heartbeat (made by a
	// version before heartbeats) must be before it counts as left over:
	// longer than any run lasts.
	LegacyWindow = 24 * time.Hour
)

// LeftoverState says what became of the run that made a namespace.
type LeftoverState string

// The states of a leftover namespace.
const (
	// Stale: the run is gone (heartbeat older than the window); delete it.
	Stale LeftoverState = "stale"
	// Live: the run is still going; never delete it.
	Live LeftoverState = "live"
	// Kept: left on purpose with --keep; delete it only when asked.
	Kept LeftoverState = "kept"
	// Unknown: no heartbeat (an older version's run) and younger than
	// LegacyWindow: it may be going; leave it.
	Unknown LeftoverState = "unknown"
)

// Leftover is the namespace of an earlier or concurrent run.
type Leftover struct {
	Namespace string
	Created   time.Time
	// LastBeat is the latest heartbeat; zero without one.
	LastBeat time.Time
	State    LeftoverState
}

// Age says how long ago the run was last known alive.
func (l Leftover) Age(now time.Time) time.Duration {
	if l.LastBeat.IsZero() {
		return now.Sub(l.Created).Round(time.Second)
	}
	return now.Sub(l.LastBeat).Round(time.Second)
}

// Leftovers lists the run namespaces in the cluster (by the managed-by and
// run labels and the name prefix), oldest first, each judged at now.
func Leftovers(ctx context.Context, kc kubernetes.Interface, now time.Time) ([]Leftover, error) {
	list, err := kc.CoreV1().Namespaces().List(ctx, metav1.ListOptions{
		LabelSelector: manifests.ManagedByLabel + "=" + manifests.ManagedBy + "," + manifests.RunLabel,
	})
	if err != nil {
		return nil, fmt.Errorf("looking for leftover profiling namespaces: %w", err)
	}
	var out []Leftover
	for _, n := range list.Items {
		if strings.HasPrefix(n.Name, NamespacePrefix) {
			out = append(out, judge(n, now))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// judge tells what became of the run of namespace n. A heartbeat that
// cannot be read counts as none.
func judge(n corev1.Namespace, now time.Time) Leftover {
	l := Leftover{Namespace: n.Name, Created: n.CreationTimestamp.Time}
	if t, err := time.Parse(time.RFC3339, n.Annotations[HeartbeatAnnotation]); err == nil {
		l.LastBeat = t
	}
	switch {
	case n.Annotations[KeptAnnotation] == "true":
		l.State = Kept
	case !l.LastBeat.IsZero() && now.Sub(l.LastBeat) <= HeartbeatWindow:
		l.State = Live
	case !l.LastBeat.IsZero() || now.Sub(l.Created) > LegacyWindow:
		l.State = Stale
	default:
		l.State = Unknown
	}
	return l
}

// markHeartbeat stamps the heartbeat on a namespace about to be created.
func markHeartbeat(ns *corev1.Namespace, now time.Time) {
	if ns.Annotations == nil {
		ns.Annotations = map[string]string{}
	}
	ns.Annotations[HeartbeatAnnotation] = now.UTC().Format(time.RFC3339)
}

// annotate sets one annotation of namespace ns.
func annotate(ctx context.Context, kc kubernetes.Interface, ns, key, value string) error {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, key, value)
	_, err := kc.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "kubectl-meshinsight"})
	return err
}

// startHeartbeat renews namespace ns's heartbeat until stop is called
// (stop returns once no renewal can race a deletion); the returned context
// ends, with the heartbeat's error as its cause, if it cannot be renewed.
func startHeartbeat(ctx context.Context, kc kubernetes.Interface, ns string, interval time.Duration) (_ context.Context, stop func()) {
	bctx, fail := context.WithCancelCause(ctx)
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		heartbeat(bctx, kc, ns, interval, fail)
	}()
	return bctx, func() {
		fail(nil)
		<-beating
	}
}

// markKept marks namespace ns as kept on purpose (--keep), with a fresh
// context: the run's may have ended.
func markKept(ctx context.Context, kc kubernetes.Interface, ns string, timeout time.Duration) error {
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := annotate(kctx, kc, ns, KeptAnnotation, "true"); err != nil {
		return fmt.Errorf("marking namespace %s as kept: %w (later runs will delete it once its heartbeat is %v old)", ns, err, HeartbeatWindow)
	}
	return nil
}

// errHeartbeat is the cause of a run's end when its heartbeat could not be
// renewed.
var errHeartbeat = errors.New("heartbeat not renewed")

// heartbeat renews namespace ns's heartbeat every interval until ctx ends.
// When renewals have failed for five intervals (half the window at the
// default interval), it calls fail: the run must stop before another run
// takes its namespace for a leftover.
func heartbeat(ctx context.Context, kc kubernetes.Interface, ns string, interval time.Duration, fail func(error)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := annotate(ctx, kc, ns, HeartbeatAnnotation, time.Now().UTC().Format(time.RFC3339))
		switch {
		case err == nil:
			lastOK = time.Now()
		case ctx.Err() != nil:
			return
		case time.Since(lastOK) > 5*interval:
			fail(fmt.Errorf("%w on namespace %s since %s: %w (the run stops before another run takes its namespace for a leftover)",
				errHeartbeat, ns, lastOK.Format(time.RFC3339), err))
			return
		}
	}
}
