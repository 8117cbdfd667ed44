// Package disttest tries the release archive as a new user would after
// `kubectl krew install meshinsight`: the linux/amd64 archive of `make dist`
// unpacked alone in an empty directory, with no repository, no kubeconfig
// and no cluster. Its test (build tag dist, `make test-dist`) runs --help,
// every example of every command's help that needs no cluster, and predict
// without a kubeconfig.
package disttest
