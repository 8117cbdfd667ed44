package predict

import (
	"fmt"
	"math"

	"github.com/meshinsight/kubectl-meshinsight/pkg/dataplane"
	"github.com/meshinsight/kubectl-meshinsight/pkg/diag"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// The queueing term: a sidecar is a few worker threads serving every
// crossing through it, so a request that arrives while they are busy waits.
// Each sidecar instance is taken as an M/M/c queue (Poisson arrivals,
// exponential service, c = the workload's proxyConcurrency from the graph,
// else the profile's proxy threads; first come first served): its offered load a is its predicted CPU in cores, its arrival
// rate λ the crossings per second through it, its mean service time a/λ.
// The wait's q-quantile is then S/(c−a) · ln(C/(1−q)) where C is Erlang's
// C (the chance of waiting at all), and 0 when C ≤ 1−q. The models' p99
// already holds the wait of the profile's operating point (one crossing
// stream at its reference rate through a proxy of its own), so each
// crossing adds wait99(its proxy) − wait99(operating point) to the p99,
// under sched-wait. p50 is not changed: the latency rate factors already
// scale it with the rate, and the median wait is 0 below half load.
// ztunnels and waypoints get no term (their threading is not in the
// profile).
const (
	// waitQuantile99 is the quantile of the p99 term.
	waitQuantile99 = 0.99
	// saturation caps a proxy's load at this share of its threads: at and
	// beyond it the queue grows without bound and the model says so.
	saturation = 0.95
)

// erlangC is the probability that an arrival waits in an M/M/c queue with
// offered load a < c (Erlang B by recursion, then C from B).
func erlangC(c int, a float64) float64 {
	b := 1.0
	for k := 1; k <= c; k++ {
		b = a * b / (float64(k) + a*b)
	}
	return float64(c) * b / (float64(c) - a*(1-b))
}

// waitQuantile is the q-quantile of the waiting time in µs of an M/M/c
// queue with c servers, offered load a (capped below c) and mean service
// time serviceMicros.
func waitQuantile(c int, a, serviceMicros, q float64) float64 {
	if c < 1 || !(a > 0) || !(serviceMicros > 0) {
		return 0
	}
	a = math.Min(a, saturation*float64(c))
	pw := erlangC(c, a)
	if pw <= 1-q {
		return 0
	}
	return serviceMicros / (float64(c) - a) * math.Log(pw/(1-q))
}

// queueing holds, per proxy row, the p99 wait of its crossings.
type queueing struct {
	wait99 []float64
	ops    map[*profile.Profile]*profile.OperatingPoint
}

// newQueueing computes each sidecar row's p99 wait from its predicted CPU
// per instance and crossings per instance, and reports sidecars at or
// beyond saturation. Rows whose profile has no operating point get none.
func newQueueing(pt *proxyTable, rowCosts []costs, notes *diag.List) *queueing {
	q := &queueing{wait99: make([]float64, len(pt.rows)), ops: map[*profile.Profile]*profile.OperatingPoint{}}
	var saturated []string
	for i := range pt.rows {
		r := &pt.rows[i]
		op := r.prof.OperatingPoint
		if r.mode != dataplane.Sidecar || op == nil || r.replicas < 1 {
			continue
		}
		q.ops[r.prof] = op
		_, _, millicores := rowCosts[i].total()
		load := millicores / cpuMicrosPerSecondPerMillicore / float64(r.replicas) // cores per instance
		rate := pt.perReplica(r)
		if !(rate > 0) || !(load > 0) {
			continue
		}
		threads := op.ProxyThreads
		if r.threads > 0 {
			threads = r.threads
		}
		if load >= saturation*float64(threads) {
			saturated = append(saturated, fmt.Sprintf("%s (%.2f of %d cores)", r.owner, load, threads))
		}
		q.wait99[i] = waitQuantile(threads, load, load/rate*1e6, waitQuantile99)
	}
	if len(saturated) > 0 {
		notes.Add(diag.New(diag.ProxySaturated, "sidecar proxies",
			"%s: predicted CPU at or beyond %.0f%% of the proxy's worker threads; the queue grows without bound there, so latency figures are a floor",
			abbreviate(saturated), saturation*100))
	}
	return q
}

// add charges crossing t of an edge its wait beyond the profile's own:
// serviceMicros is the crossing's CPU-µs per request at the operating
// point, tries how often each request crosses.
func (q *queueing) add(c *costs, row int32, prof *profile.Profile, serviceMicros, tries float64) {
	op := q.ops[prof]
	if op == nil || q.wait99[row] == 0 {
		return
	}
	load := op.RequestsPerSecond * serviceMicros / 1e6
	own := waitQuantile(op.ProxyThreads, load, serviceMicros, waitQuantile99)
	// A proxy less busy than the profile's is not credited: the models'
	// p99 at the reference rate is the floor.
	if d := q.wait99[row] - own; d > 0 {
		c.wait(componentIndex[profile.SchedWait], d*tries)
	}
}
