// Package mesh reads Istio's configuration and turns it into a plain per-edge
// policy model: for a call from one workload to a service port, which protocol the
// proxies see, whether it is mutual TLS and why, the retries, mirroring, fault
// delay and timeout of its route, the server's telemetry and filters, and whether
// the client's Sidecar resource lets the call through. It also suggests candidate
// edges from AuthorizationPolicies, Sidecars and VirtualServices for clusters
// without traffic telemetry.
//
// Istio's API types stay inside this package (convert.go); callers see only the
// plain types defined here. Load reads the resources with a constant number of
// LISTs; everything after it is pure and never fails: odd or conflicting
// configuration becomes diag messages.
//
// The model follows Istio's own precedence rules (PeerAuthentication port >
// workload > namespace > mesh, DestinationRule lookup in the client's, then the
// service's, then the root namespace, oldest resource first on ties). What it
// does not read: MeshConfig (auto mTLS is assumed on, outboundTrafficPolicy
// ALLOW_ANY, Istio's built-in default retry policy, no default telemetry
// providers, every default exportTo "*"), ServiceEntries and request matching
// beyond ports, source labels and namespaces. exportTo is read on Services
// (their networking.istio.io/exportTo annotation), DestinationRules and
// VirtualServices.
//
// Visibility counts the configuration each sidecar receives (Services,
// clusters, endpoints, listeners, routes), narrowed by Sidecar egress hosts
// and exportTo, for the memory model; SidecarResources writes the Sidecar
// resources that would narrow it to the calls observed.
package mesh
