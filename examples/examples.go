// Package examples embeds the example call graphs in the binary, so that a
// user who installed only the binary (krew) can run every help example:
// `-f example:bookinfo` reads examples/bookinfo.yaml from the binary.
package examples

import (
	"embed"
	"fmt"
	"sort"
	"strings"
)

//go:embed *.yaml
var files embed.FS

// Prefix marks a -f argument that names an embedded example.
const Prefix = "example:"

// Names lists the embedded examples, sorted.
func Names() []string {
	entries, err := files.ReadDir(".")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Read returns the call-graph file of the example called name (without
// Prefix); an unknown name is an error listing the known ones.
func Read(name string) ([]byte, error) {
	data, err := files.ReadFile(name + ".yaml")
	if err != nil || strings.ContainsAny(name, "/\\") {
		return nil, fmt.Errorf("unknown example %q: want one of %s", name, strings.Join(Names(), ", "))
	}
	return data, nil
}

// Description is the example's metadata.description line, for listings;
// empty when it has none.
func Description(name string) string {
	data, err := Read(name)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if d, ok := strings.CutPrefix(strings.TrimSpace(line), "description:"); ok {
			return strings.TrimSpace(d)
		}
	}
	return ""
}
