//go:build tools

// Package etcd pins the etcd server that hack/testenv/build.sh builds for the
// integration-test control plane. It is never compiled: the import only keeps
// the server's main package and its dependencies in go.mod and go.sum.
package etcd

import (
	_ "go.etcd.io/etcd/server/v3"
)
