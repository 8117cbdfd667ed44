package proxyconfig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sample() Config {
	return Config{
		Threads: 2,
		Inbound: []AppPort{{Port: 9091, Protocol: TCP}, {Port: 9080, Protocol: HTTP}, {Port: 9080, Protocol: HTTP}},
		Outbound: []Service{
			{Name: "ns/tcp-svc:9091", VIP: netip.MustParseAddrPort("10.96.0.20:9091"), Protocol: TCP,
				Endpoints: []Endpoint{{Addr: netip.MustParseAddrPort("10.244.0.7:9091")}}},
			{Name: "ns/http-svc:80", VIP: netip.MustParseAddrPort("10.96.0.10:80"), Protocol: HTTP,
				Endpoints: []Endpoint{
					{Addr: netip.MustParseAddrPort("10.244.0.9:9080"), MTLS: true, Identity: "spiffe://cluster.local/ns/ns/sa/default"},
					{Addr: netip.MustParseAddrPort("10.244.0.8:9080")},
				}},
			{Name: "ns/empty:80", VIP: netip.MustParseAddrPort("10.96.0.30:80"), Protocol: HTTP},
		},
	}
}

func TestNormalizeAndVersion(t *testing.T) {
	a, b := sample(), sample()
	b.Outbound[0], b.Outbound[1] = b.Outbound[1], b.Outbound[0]
	b.Outbound[0].Endpoints[0], b.Outbound[0].Endpoints[1] = b.Outbound[0].Endpoints[1], b.Outbound[0].Endpoints[0]
	if a.Version() == b.Version() {
		t.Fatal("differently ordered configurations hash equally before Normalize")
	}
	a.Normalize()
	b.Normalize()
	if a.Version() != b.Version() {
		t.Fatalf("normalized versions differ: %s vs %s", a.Version(), b.Version())
	}
	if len(a.Inbound) != 2 {
		t.Fatalf("duplicate inbound port kept: %v", a.Inbound)
	}
	b.StrictMTLS = true
	if a.Version() == b.Version() {
		t.Fatal("STRICT does not change the version")
	}
}

func TestHAProxyRouting(t *testing.T) {
	c := sample()
	c.Normalize()
	got := string(c.HAProxy(FilesIn("/etc/istio/proxy")))
	for _, want := range []string{
		"use_backend out_10_96_0_10_80 if { dst 10.96.0.10 } { dst_port 80 }",
		"server ep0 10.244.0.8:9080\n",
		"server ep1 10.244.0.9:9080 ssl crt /etc/istio/proxy/cert-key.pem ca-file /etc/istio/proxy/root-cert.pem verify required",
		"use_backend inbound_http if { dst_port 9080 }",
		"tcp-request content accept if { req.len gt 0 }",
		"nbthread 2",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("configuration lacks %q:\n%s", want, got)
		}
	}
	c.StrictMTLS = true
	if got := string(c.HAProxy(FilesIn("/x"))); !strings.Contains(got, "tcp-request content reject if { req.len gt 0 }") {
		t.Errorf("STRICT configuration accepts plaintext:\n%s", got)
	}
}

// TestHAProxyAcceptsConfiguration checks the rendering with haproxy itself
// (haproxy -c), with real certificate files.
func TestHAProxyAcceptsConfiguration(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("haproxy is not installed, but CI installs it (.ci/run)")
		}
		t.Skip("haproxy not installed")
	}
	dir := t.TempDir()
	f := FilesIn(dir)
	writeTestCert(t, f)
	for _, strict := range []bool{false, true} {
		c := sample()
		c.StrictMTLS = strict
		cfg := filepath.Join(dir, "haproxy.cfg")
		if err := os.WriteFile(cfg, c.HAProxy(f), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, "-c", "-f", cfg).CombinedOutput(); err != nil {
			t.Fatalf("haproxy -c (strict=%v): %v\n%s", strict, err, out)
		}
	}
}

func writeTestCert(t *testing.T, f Files) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	k := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	if err := os.WriteFile(f.CertKey, append(cert, k...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.CA, cert, 0o600); err != nil {
		t.Fatal(err)
	}
}
