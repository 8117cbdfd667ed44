package datapath

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// identity is the DNS name in pod p's certificate, which the peer verifies.
func identity(p Pod) string { return string(p) + ".meshinsight.local" }

// writeMeshCerts generates a throwaway mesh CA and one certificate per pod
// (ECDSA P-256, usable as TLS server and client, with Istio-like SPIFFE URI
// and a DNS name) and writes them as PEM files into dir, readable by uid
// only. The keys never leave dir, which Close removes.
func writeMeshCerts(dir string, pods []Pod, uid int) (map[Pod]*TLSFiles, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"meshinsight"}, CommonName: "meshinsight throwaway mesh CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("signing CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parsing CA certificate: %w", err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	caPath := filepath.Join(dir, "ca.pem")
	if err := writeOwned(caPath, caPEM, uid); err != nil {
		return nil, err
	}
	out := make(map[Pod]*TLSFiles, len(pods))
	for i, p := range pods {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating %s key: %w", p, err)
		}
		spiffe := &url.URL{Scheme: "spiffe", Host: "cluster.local", Path: "/ns/meshinsight/sa/" + string(p)}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i) + 2),
			Subject:      pkix.Name{Organization: []string{"meshinsight"}, CommonName: identity(p)},
			DNSNames:     []string{identity(p)},
			URIs:         []*url.URL{spiffe},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return nil, fmt.Errorf("signing %s certificate: %w", p, err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("encoding %s key: %w", p, err)
		}
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
		f := &TLSFiles{
			CA:       caPath,
			Cert:     filepath.Join(dir, string(p)+"-cert.pem"),
			Key:      filepath.Join(dir, string(p)+"-key.pem"),
			CertKey:  filepath.Join(dir, string(p)+"-certkey.pem"),
			PeerName: identity(Server),
		}
		for path, data := range map[string][]byte{f.Cert: certPEM, f.Key: keyPEM, f.CertKey: append(certPEM, keyPEM...)} {
			if err := writeOwned(path, data, uid); err != nil {
				return nil, err
			}
		}
		out[p] = f
	}
	return out, nil
}

// writeOwned writes a 0600 file owned by uid (when running as root).
func writeOwned(path string, data []byte, uid int) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if os.Geteuid() == 0 && uid >= 0 {
		if err := os.Chown(path, uid, uid); err != nil {
			return fmt.Errorf("handing %s to uid %d: %w", path, uid, err)
		}
	}
	return nil
}
