// Package nodetest is the real-node suite (build tag "node", make test-node):
// `kubectl meshinsight profile` run through a real kubectl against a real
// kubelet, containerd and kube-proxy node with the stand-in Istio of
// hack/standin (haproxy in place of Envoy), and the host checked unchanged
// after the node is taken down. It needs root.
package nodetest
