//go:build tools

// Package k8s pins the Kubernetes commands that hack/testenv/build.sh builds
// for the integration-test control plane and the real test node. It is never
// compiled: the imports only keep the commands' dependencies in go.mod and
// go.sum.
package k8s

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
