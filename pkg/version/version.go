// Package version holds the build's version, set at link time:
//
//	go build -ldflags "-X github.com/meshinsight/kubectl-meshinsight/pkg/version.Version=v0.1.0 \
//	  -X github.com/meshinsight/kubectl-meshinsight/pkg/version.Commit=$(git rev-parse HEAD)"
package version

import (
	"runtime"
	"runtime/debug"
)

// Version and Commit are overridden by -ldflags -X at release builds.
var (
	Version = "dev"
	Commit  = ""
)

// Info describes a binary.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns this binary's Info. Without ldflags the commit comes from the Go
// build info when the binary was built from a VCS checkout.
func Get() Info {
	i := Info{Version: Version, Commit: Commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if i.Commit == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					i.Commit = s.Value
				}
			}
		}
	}
	return i
}
