// Package agent runs the profiler's experiment matrix on one node and turns
// its measurements into a profile.Profile.
//
// # Method
//
// For every protocol × mTLS variant the agent builds a two-pod sidecar
// datapath (pkg/datapath, SidecarBoth) whose server app listens on a meshed
// port and on a bypass port excluded from interception inbound and outbound,
// so the A/B comparison runs on the same pods, the same server process and the
// same client pod. The echo server and the load generator (pkg/loadgen) run
// as helper processes re-executed inside the pods' network namespaces (see
// Config.Helper). For every rate × size cell the load generator runs mesh,
// bypass, mesh, bypass, … (Config.Rounds pairs, open loop at the cell's rate,
// request and response of the cell's size), while eBPF probes (pkg/probe)
// account the two proxies: tp_btf sched_switch/sched_wakeup for on-CPU time
// and run-queue wait, CPU-clock stack sampling at a fixed period for
// component shares, classified with the proxy's rule file (pkg/classify).
// /proc/PID/task/*/schedstat deltas of the proxies cross-check the eBPF
// on-CPU figures; the agreement is recorded per cell and side.
//
// Bypass rounds do not cross the proxies, so the proxies' CPU over the whole
// cell belongs to the meshed requests: the completed mesh requests plus the
// one readiness request per connection and round that the load generator
// sends before its window. Connection setup (including the TLS handshake
// with mTLS on) is therefore amortised over each round's requests; with
// rate × duration ≥ 1000 requests that is a few per cent at most.
//
// # Attribution (a model choice, not a measurement)
//
// Per cell and side (the client's proxy is the outbound side, the server's
// the inbound side):
//
//   - CPU per request = the proxy's on-CPU time ÷ mesh requests. It is split
//     over components by the side's stack-sample shares; samples the rules
//     classify as app, or do not classify, count as proxy-other; a side
//     without samples is all proxy-other.
//   - Run-queue wait per request (the time the proxy was runnable but not
//     running) is the sched-wait component. It is latency, not CPU.
//   - Added latency (p50 and p99 separately) = mesh − bypass per round, the
//     median over rounds (negative medians, i.e. noise, count as zero). It is
//     split over the sides in proportion to each side's CPU per request; of a
//     side's share, up to its mean run-queue wait per request goes to
//     sched-wait (the same mean for p50 and p99: the probes measure no
//     percentiles of it), and the rest is split over components by the
//     side's CPU shares. Latency is not measured per component: these
//     per-component latencies only apportion the measured total.
//   - Every figure is split evenly between the request and response
//     directions: request and response sizes vary together, so the two
//     directions cannot be told apart.
//
// # Fitting
//
// For every (protocol, mTLS, side, direction, component) the CPU, p50 and
// p99 figures of the cells at the lowest rate are fitted linearly over the
// message size with profile.FitLinear; the model's Fit is the CPU fit (the
// stable figure) and its Note gives the latency fits' R². The rate factor of
// mode "sidecar" at each rate is the median, over variants and sizes, of the
// total CPU per request at that rate ÷ at the lowest rate.
package agent
