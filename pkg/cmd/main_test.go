package cmd

import (
	"os"
	"testing"
)

// afterTests run once all tests are done (e.g. removing binaries built for
// the integration suite).
var afterTests []func()

// TestMain points the profile store at an empty directory, so that no
// profile stored for the developer's kube context changes the goldens.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "meshinsight-cmd-test-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CONFIG_HOME", dir)
	code := m.Run()
	for _, f := range afterTests {
		f()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}
