// Package loadgen is the benchmark traffic of the profiler: an echo server that
// speaks tcp, HTTP/1.1, h2c and gRPC on one or more ports, and a load generator that
// drives it open loop (constant rate, latency measured from the intended send time so
// that stalls of the target are not hidden by coordinated omission) or closed loop
// (as fast as possible, for throughput).
//
// Request and response sizes are chosen by the client on every protocol, so one
// server covers the whole size matrix. Sizes count application payload only; each
// protocol adds its own framing on top (see [Protocol]).
//
// The package has no flags: the agent binary maps its flags onto [ServerConfig] and
// [LoadConfig] and calls [Serve], [Run] and [Interleave].
package loadgen
