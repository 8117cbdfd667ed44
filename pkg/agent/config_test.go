package agent

import (
	"errors"
	"testing"
	"time"
)

func validConfig() Config {
	return Config{
		Proxy: "haproxy", Protocols: []string{"tcp", "http"}, MTLS: []bool{false, true},
		Sizes: []int{128, 1024}, Rates: []float64{500, 2000}, Duration: time.Second, Rounds: 2,
		Helper: []string{"/bin/true"},
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"valid", func(*Config) {}, true},
		{"nginx", func(c *Config) { c.Proxy = "nginx" }, true},
		{"unknown proxy", func(c *Config) { c.Proxy = "envoy" }, false},
		{"grpc not local", func(c *Config) { c.Protocols = []string{"grpc"} }, false},
		{"no protocols", func(c *Config) { c.Protocols = nil }, false},
		{"no mtls", func(c *Config) { c.MTLS = nil }, false},
		{"no sizes", func(c *Config) { c.Sizes = nil }, false},
		{"negative size", func(c *Config) { c.Sizes = []int{-1} }, false},
		{"zero rate", func(c *Config) { c.Rates = []float64{0} }, false},
		{"short duration", func(c *Config) { c.Duration = time.Millisecond }, false},
		{"no rounds", func(c *Config) { c.Rounds = 0 }, false},
		{"tiny sample period", func(c *Config) { c.SamplePeriod = time.Microsecond }, false},
		{"no helper", func(c *Config) { c.Helper = nil }, false},
		{"long prefix", func(c *Config) { c.Prefix = "abcdefghijk" }, false},
		{"memory", func(c *Config) {
			c.MemoryServices, c.MemoryEndpoints, c.MemoryThreads = DefaultMemoryServices, DefaultMemoryEndpoints, DefaultMemoryThreads
		}, true},
		{"memory without endpoints", func(c *Config) { c.MemoryServices, c.MemoryThreads = []int{10}, []int{1} }, false},
		{"memory of no services", func(c *Config) { c.MemoryServices, c.MemoryEndpoints, c.MemoryThreads = []int{0}, []int{1}, []int{1} }, false},
		{"memory too large", func(c *Config) {
			c.MemoryServices, c.MemoryEndpoints, c.MemoryThreads = []int{100000}, []int{100}, []int{1}
		}, false},
		{"memory threads", func(c *Config) { c.MemoryServices, c.MemoryEndpoints, c.MemoryThreads = []int{10}, []int{1}, []int{0} }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(&c)
			err := c.Validate()
			if tc.ok && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestCellsOrder(t *testing.T) {
	cells := validConfig().Cells()
	if len(cells) != 16 {
		t.Fatalf("%d cells, want 16", len(cells))
	}
	// Variants outermost (one datapath each), then rates, then sizes.
	want := []Cell{
		{Protocol: "tcp", MTLS: false, RatePerSecond: 500, Bytes: 128},
		{Protocol: "tcp", MTLS: false, RatePerSecond: 500, Bytes: 1024},
		{Protocol: "tcp", MTLS: false, RatePerSecond: 2000, Bytes: 128},
	}
	for i, w := range want {
		if cells[i] != w {
			t.Errorf("cells[%d] = %v, want %v", i, cells[i], w)
		}
	}
	if last := cells[15]; last != (Cell{Protocol: "http", MTLS: true, RatePerSecond: 2000, Bytes: 1024}) {
		t.Errorf("last cell %v", last)
	}
}

func TestProxyVersion(t *testing.T) {
	for in, want := range map[string]string{
		"HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/\nStatus: long-term": "2.6.12-1+deb12u4",
		"nginx version: nginx/1.22.1\n": "1.22.1",
		"something else":                "something else",
	} {
		if got := proxyVersion(in); got != want {
			t.Errorf("proxyVersion(%q) = %q, want %q", in, got, want)
		}
	}
}
