//go:build privileged

package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"testing"

	"github.com/meshinsight/kubectl-meshinsight/internal/privtest"
	"github.com/meshinsight/kubectl-meshinsight/pkg/spread"
)

// keepAlive is one run of hack/keepalive/check.sh.
type keepAlive struct {
	Requests int     `json:"requests"`
	Out      float64 `json:"outboundCPUMicrosPerRequest"`
	In       float64 `json:"inboundCPUMicrosPerRequest"`
}

// BenchmarkKeepAliveAgreement compares the agent's CPU per request of each
// proxy with an independent keep-alive measurement of the same proxy
// (hack/keepalive/check.sh: its own netns chain, haproxy configuration,
// app server and clients, CPU from schedstat alone) at the same rate and
// size, for HTTP and TCP: the ratio agent ÷ independent per proxy, median
// over interleaved pairs of runs. Run it with -benchtime 1x.
func BenchmarkKeepAliveAgreement(b *testing.B) {
	_, file, _, _ := runtime.Caller(0)
	check := filepath.Join(filepath.Dir(file), "..", "..", "hack", "keepalive", "check.sh")
	const rate, size, pairs = 300, 1024, 3
	for i := 0; i < b.N; i++ {
		for _, proto := range []string{"http", "tcp"} {
			var outRatio, inRatio []float64
			for pair := range pairs {
				ctx, cancel := context.WithTimeout(suite.Ctx, 5*time.Minute)
				prefix := fmt.Sprintf("%sk%d%d", suite.Prefix, i, pair)
				res, err := Run(ctx, Config{
					Proxy: "haproxy", Protocols: []string{proto}, MTLS: []bool{false}, Sizes: []int{size},
					Rates: []float64{rate}, Duration: 2 * time.Second, Rounds: 3,
					Helper: suite.Helper, Prefix: prefix, Progress: privtest.LogWriter{TB: b},
				})
				if res != nil {
					assertNothingLeft(b, prefix, res.Measurements)
				}
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				m := res.Measurements[0]
				agentOut := float64(m.Sides[0].SchedstatOnCPUNanos) / 1e3 / float64(m.MeshRequests)
				agentIn := float64(m.Sides[1].SchedstatOnCPUNanos) / 1e3 / float64(m.MeshRequests)
				out, err := exec.CommandContext(suite.Ctx, check, proto, fmt.Sprint(rate), fmt.Sprint(size), "6").Output()
				if err != nil {
					b.Fatalf("%s: %v", check, err)
				}
				var ka keepAlive
				if err := json.Unmarshal(out, &ka); err != nil || ka.Requests == 0 {
					b.Fatalf("%s printed %q: %v", check, out, err)
				}
				b.Logf("%s %d/s %d B, pair %d: agent out %.1f in %.1f µs/req; independent out %.1f in %.1f µs/req",
					proto, rate, size, pair+1, agentOut, agentIn, ka.Out, ka.In)
				outRatio = append(outRatio, agentOut/ka.Out)
				inRatio = append(inRatio, agentIn/ka.In)
			}
			o, n := spread.Of(outRatio), spread.Of(inRatio)
			b.ReportMetric(o.Median, proto+"-outbound-agent/independent")
			b.ReportMetric(n.Median, proto+"-inbound-agent/independent")
			b.Logf("%s: agent ÷ independent, outbound %.2f [%.2f, %.2f], inbound %.2f [%.2f, %.2f]",
				proto, o.Median, o.Min, o.Max, n.Median, n.Min, n.Max)
		}
	}
}
