package agent

import "strings"

// proxyVersion extracts the version from `haproxy -v` ("HAProxy version
// 2.6.12-1+deb12u4 2026/10/17 - …") or `nginx -v` ("nginx version:
// nginx/1.22.1").
func proxyVersion(out string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	if _, v, ok := strings.Cut(line, "nginx/"); ok {
		return strings.Fields(v + " ")[0]
	}
	if _, v, ok := strings.Cut(line, "version "); ok {
		return strings.Fields(v + " ")[0]
	}
	return line
}
