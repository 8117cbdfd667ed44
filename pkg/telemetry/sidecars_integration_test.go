//go:build integration

package telemetry

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/internal/testenv"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
)

// The sidecar source for real: the stats are served over HTTP by this test
// process and fetched through the real kube-apiserver's pod proxy, exactly
// as against a cluster. The API server refuses to proxy to loopback, so the
// "sidecars" listen on addresses of a network namespace that the test
// creates (and deletes), joined to the host by a veth pair; the test's pods
// get those addresses as status.podIP. Traffic goes only to addresses inside
// that namespace. Needs root (for the namespace) and the test control plane
// (`make testenv`).

// statsNetns is a network namespace with a /29 on a veth pair: the host end
// has .1, the namespace holds the "pod" addresses .2 to .6.
type statsNetns struct {
	name   string
	prefix string // "10.250.N."
}

func run(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// newStatsNetns creates the namespace and its veth pair, and deletes both
// when the test ends.
func newStatsNetns(t *testing.T) *statsNetns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test creates a network namespace: run it as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("the ip command (iproute2) is missing: apt-get install iproute2")
	}
	// A /29 in 10.250.0.0/16 that no route uses yet, so that concurrent runs
	// and other suites do not collide.
	var n int
	for i := 0; ; i++ {
		n = 1 + rand.IntN(254)
		out, err := exec.Command("ip", "-4", "route", "show", fmt.Sprintf("10.250.%d.0/29", n)).Output()
		if err == nil && len(strings.TrimSpace(string(out))) == 0 {
			break
		}
		if i == 20 {
			t.Fatal("no free 10.250.N.0/29 for the test namespace")
		}
	}
	ns := &statsNetns{name: fmt.Sprintf("mi-telemetry-%d-%d", os.Getpid(), n), prefix: fmt.Sprintf("10.250.%d.", n)}
	host, peer := fmt.Sprintf("mit%dh%d", n, os.Getpid()%10000), fmt.Sprintf("mit%dp%d", n, os.Getpid()%10000)
	run(t, "ip", "netns", "add", ns.name)
	t.Cleanup(func() {
		// Deleting the namespace destroys the peer end, and with it the pair.
		if out, err := exec.Command("ip", "netns", "del", ns.name).CombinedOutput(); err != nil {
			t.Errorf("deleting network namespace %s: %v: %s", ns.name, err, out)
		}
		_ = exec.Command("ip", "link", "del", host).Run() // gone already, normally
	})
	run(t, "ip", "link", "add", host, "type", "veth", "peer", "name", peer)
	run(t, "ip", "link", "set", peer, "netns", ns.name)
	run(t, "ip", "addr", "add", ns.prefix+"1/29", "dev", host)
	run(t, "ip", "link", "set", host, "up")
	run(t, "ip", "-n", ns.name, "link", "set", "lo", "up")
	for i := 2; i <= 6; i++ {
		run(t, "ip", "-n", ns.name, "addr", "add", fmt.Sprintf("%s%d/29", ns.prefix, i), "dev", peer)
	}
	run(t, "ip", "-n", ns.name, "link", "set", peer, "up")
	return ns
}

// listen opens a TCP listener inside the namespace. A socket belongs to the
// network namespace of the thread that created it, so one locked thread
// enters the namespace, listens, and returns; the test process serves on the
// listener from any goroutine afterwards.
func (ns *statsNetns) listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	type result struct {
		l   net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread unless the thread is back home: a thread left
		// in the namespace dies with this goroutine.
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			done <- result{err: err}
			return
		}
		defer orig.Close()
		target, err := os.Open("/var/run/netns/" + ns.name)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("entering %s: %w", ns.name, err)}
			return
		}
		l, lerr := net.Listen("tcp", addr)
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			if l != nil {
				l.Close()
			}
			done <- result{err: fmt.Errorf("leaving %s: %w", ns.name, err)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{l: l, err: lerr}
	}()
	r := <-done
	if r.err != nil {
		t.Fatalf("listening on %s in %s: %v", addr, ns.name, r.err)
	}
	return r.l
}

// serve serves h on a listener inside the namespace until the test ends.
func (ns *statsNetns) serve(t *testing.T, addr string, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	l := ns.listen(t, addr)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// statsHandler serves the nth scrape with text(n) at /stats/prometheus, the
// path pilot-agent serves, and counts the scrapes.
type statsHandler struct {
	mu    sync.Mutex
	n     int
	paths []string
	text  func(n int) []byte
}

func (h *statsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.n++
	n := h.n
	h.paths = append(h.paths, r.URL.Path)
	h.mu.Unlock()
	if r.URL.Path != StatsPath {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(h.text(n))
}

func fixturePair(t *testing.T, name string) func(int) []byte {
	first, second := readFixture(t, "stats-"+name+"-1.txt"), readFixture(t, "stats-"+name+"-2.txt")
	return func(n int) []byte {
		if n == 1 {
			return first
		}
		return second
	}
}

// createPod creates a pod and, unless ip is empty, waits for kwok to run it
// on the fake node and points its status.podIP at ip.
func createPod(t *testing.T, client kubernetes.Interface, ns, name, ip string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"pod": name}},
		Spec: corev1.PodSpec{
			// kwok runs no containers: the images are never pulled.
			Containers: []corev1.Container{
				{Name: "app", Image: "registry.k8s.io/pause:3.10"},
				{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.24.2"},
			},
		},
	}
	if ip == "" {
		// Never scheduled: a pod without an IP.
		pod.Spec.NodeSelector = map[string]string{"meshinsight.io/no-such-node": "true"}
	} else {
		pod.Spec.NodeName = testenv.FakeNodeName
	}
	if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating pod %s: %v", name, err)
	}
	if ip == "" {
		return
	}
	running, err := testenv.WaitForPodsRunning(ctx, client, ns, "pod="+name, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := running[0]
	p.Status.PodIP = ip
	p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	if _, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("setting pod %s's IP to %s: %v", name, ip, err)
	}
}

func TestSidecarsThroughAPIServerPodProxy(t *testing.T) {
	client := testenv.Client(t)
	netns := newStatsNetns(t)
	kns := testenv.NewNamespace(t, client)

	productpage := &statsHandler{text: fixturePair(t, "productpage")}
	reviews := &statsHandler{text: fixturePair(t, "reviews")}
	netns.serve(t, netns.prefix+"2:"+StatsPort, productpage)
	netns.serve(t, netns.prefix+"3:"+StatsPort, reviews)
	// .4 has no listener: connection refused, as from a pod whose sidecar
	// is not up. .5 accepts but never answers.
	hang := netns.listen(t, netns.prefix+"5:"+StatsPort)
	t.Cleanup(func() { hang.Close() })

	createPod(t, client, kns, "productpage-v1-abc", netns.prefix+"2")
	createPod(t, client, kns, "reviews-v1-def", netns.prefix+"3")
	createPod(t, client, kns, "details-v1-refused", netns.prefix+"4")
	createPod(t, client, kns, "ratings-v1-hangs", netns.prefix+"5")
	createPod(t, client, kns, "pending-v1-noip", "")

	s := NewSidecars(client, 2, 2*time.Second)
	// The fixtures hold counters 10s apart; a clock that moves only when
	// the source waits makes the two scrapes exactly 10s apart, so the rates
	// are exact while every byte still crosses the API server.
	clock := &fakeClock{t: time.Now()}
	s.now, s.sleepUntil = clock.now, clock.sleepUntil
	pods := []PodRef{
		{kns, "productpage-v1-abc", "productpage-v1"},
		{kns, "reviews-v1-def", "reviews-v1"},
		{kns, "details-v1-refused", "details-v1"},
		{kns, "ratings-v1-hangs", "ratings-v1"},
		{kns, "pending-v1-noip", "pending-v1"},
	}
	tr, err := s.Traffic(t.Context(), pods, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	checkFixtureEdges(t, tr.Edges, tr.Messages)
	for _, h := range []*statsHandler{productpage, reviews} {
		if h.n != 2 || h.paths[0] != StatsPath {
			t.Errorf("sidecar scraped %d times at %v, want twice at %s", h.n, h.paths, StatsPath)
		}
	}
	for _, w := range []struct{ pod, text string }{
		{"details-v1-refused", "connection refused"},
		{"ratings-v1-hangs", "no answer within 2s"},
		{"pending-v1-noip", ""},
	} {
		found := false
		for _, m := range tr.Messages {
			found = found || (m.Code == diag.TelemetryIncomplete && strings.Contains(m.Subject, w.pod) && strings.Contains(m.Message, w.text))
		}
		if !found {
			t.Errorf("no %s message for %s containing %q in %v", diag.TelemetryIncomplete, w.pod, w.text, tr.Messages)
		}
	}
	for _, m := range tr.Messages {
		t.Logf("%v", m)
	}
}

// TestSidecarsRealClock runs the source unaltered: real waiting, counters
// that grow with the wall clock, rates from the real time between scrapes.
func TestSidecarsRealClock(t *testing.T) {
	client := testenv.Client(t)
	netns := newStatsNetns(t)
	kns := testenv.NewNamespace(t, client)

	const rps, bytesPerSec = 50.0, 20000.0
	start := time.Now()
	h := &statsHandler{text: func(int) []byte {
		el := time.Since(start).Seconds()
		return []byte(fmt.Sprintf(tinyStats, strconvF(1000+rps*el), strconvF(5e6+bytesPerSec*el)))
	}}
	netns.serve(t, netns.prefix+"6:"+StatsPort, h)
	createPod(t, client, kns, "a-v1-xyz", netns.prefix+"6")

	s := NewSidecars(client, 4, 5*time.Second)
	s.SampleInterval = 2 * time.Second
	began := time.Now()
	tr, err := s.Traffic(t.Context(), []PodRef{{kns, "a-v1-xyz", "a-v1"}}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < 2*time.Second || took > 10*time.Second {
		t.Errorf("took %v, want about the 2s sample interval", took)
	}
	if tr.Window != 2*time.Second || len(tr.Edges) != 2 {
		t.Fatalf("traffic = %+v", tr)
	}
	// The scrape's time is estimated as the middle of the request; over 2s
	// that is good to well under 2%.
	for _, e := range tr.Edges {
		got, want := e.RequestsPerSecond, rps
		if e.Protocol == "tcp" {
			got, want = e.TCPSentBytesPerSecond, bytesPerSec
		}
		if math.Abs(got-want)/want > 0.02 {
			t.Errorf("%s %s: %v per second, want %v ±2%%", e.Name(), e.Protocol, got, want)
		}
	}
	if !diag.Has(tr.Messages, diag.ShortSampleInterval, "sidecars") {
		t.Errorf("no message that the 1m window was sampled over 2s: %v", tr.Messages)
	}
}

func strconvF(v float64) string { return fmt.Sprintf("%.3f", v) }
