// Package accuracy proves (or disproves) the predictions: it measures the
// overhead a real sidecar mesh adds to a real multi-hop application and
// compares it with what pkg/predict says for the same topology.
//
// # Method
//
//  1. Profile: the proxy (HAProxy) is profiled on this node with the
//     agent's node-local code (pkg/agent), over the protocols, mTLS
//     settings, sizes and per-proxy rates the application uses, unless a
//     profile is given.
//  2. Chain: each chain (Chain: an application, its sidecars' configuration
//     and its load generator's) runs in turn in network namespaces joined
//     by a bridge (datapath.BuildChain): every pod has an HAProxy sidecar as
//     uid 1337 behind istio-init-style redirection, and every service is a
//     relay process (loadgen.ServeRelay) that calls its callees in parallel
//     and then answers. DefaultChain is four services with a fan-out,
//     HTTP/1.1 and TCP edges, mTLS on two of them, and the agent's own
//     sidecar configuration; DiamondChain is one the profile's datapath did
//     not shape: a fan-out of three joining at a service called by two
//     callers, HTTP and TCP each with and without mTLS, sidecars configured
//     unlike the agent's (threads, connection reuse, limits) and another
//     load generator setting. The same profile predicts every chain. Every relay listens on a meshed port, whose calls go
//     through the sidecars, and on a bypass port excluded from interception
//     in every pod, whose calls go around them: the same pods and processes
//     with and without the mesh.
//  3. Measure: at each entry rate, an open-loop load generator in the entry
//     pod runs mesh, bypass, mesh, bypass, … for several rounds. Per run it
//     records end-to-end p50/p99 (from the intended send time), each
//     proxy's CPU (/proc/PID/task/*/schedstat deltas) and, from the relays,
//     each call's round trip minus the callee's reported handler time (the
//     time on the edge: network, proxies, queueing). Added latency is mesh −
//     bypass per round; every figure is reported as median [min, max] over
//     rounds.
//  4. Predict: the same topology is written as a call graph per rate
//     (pkg/callgraph; each edge at the rate its caller serves, the sidecars'
//     threads as proxyConcurrency) and predicted with the profile
//     (pkg/predict, fan-out parallel); the equivalent `kubectl meshinsight
//     predict` command is printed.
//  5. Compare: per edge and end to end (p50, p99), per proxy and in total
//     (CPU), the relative error and whether the prediction lies inside the
//     measured spread; then the median and maximum error. Nothing is tuned
//     to pass.
//
// This package measures; what it measures and what it found (the topology,
// the report, the comparison and its statistics) are plain data in
// pkg/accuracy/experiment, which pkg/printers renders (PrintValidation)
// without linking the measuring code.
//
// The entry edge's added latency is derived (end-to-end minus the first
// service's handler time, percentile by percentile) because the load
// generator does not read handler times; the other edges are measured per
// call. CPU is compared per proxy, not per edge: a proxy serving several
// edges (inbound and outbound) is one process, and its time cannot be split
// by edge from schedstat.
package accuracy
