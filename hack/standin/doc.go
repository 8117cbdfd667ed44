// Package standin holds the test environment's stand-in for Istio, used only
// by the real-node suite (hack/testenv, make test-node) and never shipped.
//
// Envoy, istiod and ztunnel images cannot be obtained on the machines this
// project is developed and tested on, so the stand-in behaves like Istio at
// every point `kubectl meshinsight profile` touches, with one substitution:
// the sidecar proxy binary is Debian's haproxy instead of Envoy.
//
//   - istiod (Deployment istiod in istio-system, labelled and versioned as
//     Istio's) serves the sidecar-injection mutating webhook, signs workload
//     certificates with SPIFFE identities, and serves each sidecar its
//     configuration computed from Services, EndpointSlices, DestinationRules
//     and PeerAuthentications (auto mTLS, PERMISSIVE and STRICT).
//   - pilot-agent, in the injected proxyv2 image, is both the istio-init
//     container (istio-iptables: uid 1337 exempt, inbound to 15006, outbound
//     to 15001, excluded ports honoured) and the istio-proxy container, where
//     it fetches its configuration, runs haproxy as uid 1337 and serves
//     readiness on :15021.
//   - proxyconfig is the configuration contract between the two and its
//     rendering into haproxy's configuration language.
package standin
