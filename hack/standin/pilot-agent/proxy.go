package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/hack/standin/proxyconfig"
)

// sidecar is the istio-proxy container's pilot-agent: it obtains a workload
// certificate and the proxy configuration from istiod, runs haproxy with
// them, re-renders and hands over to a new haproxy when the configuration
// changes (haproxy cannot change listeners in place as Envoy does), and
// reports readiness.
type sidecar struct {
	istiod   string // host:port of the stand-in istiod's plain-HTTP API
	dir      string
	haproxy  string
	interval time.Duration
	pod      podIdentity

	mu      sync.Mutex
	current *exec.Cmd
	version string
	exited  chan struct{} // closed when current exits
}

type podIdentity struct {
	name, namespace, serviceAccount string
}

func runSidecar(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	s := &sidecar{}
	fs.StringVar(&s.istiod, "discovery-address", os.Getenv("ISTIOD_ADDRESS"), "host:port of istiod's configuration API")
	fs.StringVar(&s.dir, "config-dir", "/etc/istio/proxy", "writable directory for the proxy's configuration and certificates")
	fs.StringVar(&s.haproxy, "haproxy", "/usr/sbin/haproxy", "the proxy binary")
	fs.DurationVar(&s.interval, "poll", time.Second, "how often to ask istiod for a new configuration")
	fs.String("domain", "", "accepted for compatibility; ignored")
	fs.String("proxyLogLevel", "", "accepted for compatibility; ignored")
	if len(args) == 0 || args[0] != "sidecar" {
		return fmt.Errorf("usage: pilot-agent proxy sidecar [flags]")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	s.pod = podIdentity{os.Getenv("POD_NAME"), os.Getenv("POD_NAMESPACE"), os.Getenv("SERVICE_ACCOUNT")}
	if s.istiod == "" || s.pod.name == "" || s.pod.namespace == "" {
		return fmt.Errorf("ISTIOD_ADDRESS, POD_NAME and POD_NAMESPACE must be set (the injector sets them)")
	}
	ready := make(chan struct{})
	go s.serveReadiness(ctx, ready)
	if err := s.certificates(ctx); err != nil {
		return err
	}
	log.Printf("workload certificate for spiffe://cluster.local/ns/%s/sa/%s written to %s", s.pod.namespace, s.pod.serviceAccount, s.dir)
	defer s.stop()
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		if err := s.sync(ctx); err != nil {
			log.Printf("configuration: %v", err)
		}
		s.mu.Lock()
		if s.current != nil {
			select {
			case <-ready:
			default:
				close(ready)
			}
		}
		exited := s.exited
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-exited:
			return errors.New("haproxy exited")
		case <-t.C:
		}
	}
}

// certificates generates the workload key and has istiod sign it, as
// pilot-agent's SDS server does with a CSR.
func (s *sidecar) certificates(ctx context.Context) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generating the workload key: %w", err)
	}
	id, _ := url.Parse(fmt.Sprintf("spiffe://cluster.local/ns/%s/sa/%s", s.pod.namespace, s.pod.serviceAccount))
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{}, URIs: []*url.URL{id}}, key)
	if err != nil {
		return fmt.Errorf("creating the CSR: %w", err)
	}
	body := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})
	var resp struct {
		CertChain string `json:"certChain"`
		Root      string `json:"root"`
	}
	for attempt := 0; ; attempt++ {
		err = s.call(ctx, http.MethodPost, "/v1/sign", body, &resp)
		if err == nil {
			break
		}
		if attempt%10 == 0 {
			log.Printf("waiting for istiod at %s: %v", s.istiod, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	f := proxyconfig.FilesIn(s.dir)
	if err := writeFile(f.CertKey, append([]byte(resp.CertChain), keyPEM...)); err != nil {
		return err
	}
	return writeFile(f.CA, []byte(resp.Root))
}

// sync fetches the configuration and, when its version changed, starts a
// haproxy with it that takes over from the previous one (-sf).
func (s *sidecar) sync(ctx context.Context) error {
	var resp struct {
		Version string             `json:"version"`
		Config  proxyconfig.Config `json:"config"`
	}
	q := url.Values{"namespace": {s.pod.namespace}, "pod": {s.pod.name}}
	if err := s.call(ctx, http.MethodGet, "/v1/config?"+q.Encode(), nil, &resp); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if resp.Version == s.version && s.current != nil {
		return nil
	}
	cfg := filepath.Join(s.dir, "haproxy.cfg")
	if err := writeFile(cfg, resp.Config.HAProxy(proxyconfig.FilesIn(s.dir))); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, s.haproxy, "-c", "-q", "-f", cfg).CombinedOutput(); err != nil {
		return fmt.Errorf("haproxy rejects configuration %s: %w: %s", resp.Version, err, bytes.TrimSpace(out))
	}
	args := []string{"-db", "-f", cfg}
	if s.current != nil {
		args = append(args, "-sf", strconv.Itoa(s.current.Process.Pid))
	}
	cmd := exec.Command(s.haproxy, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting haproxy: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		log.Printf("haproxy %d exited: %v", cmd.Process.Pid, err)
		close(exited)
	}()
	log.Printf("haproxy %d serving configuration %s (%d outbound services, %d inbound ports)",
		cmd.Process.Pid, resp.Version, len(resp.Config.Outbound), len(resp.Config.Inbound))
	s.current, s.exited, s.version = cmd, exited, resp.Version
	return nil
}

// stop asks haproxy to finish (soft stop), then kills it.
func (s *sidecar) stop() {
	s.mu.Lock()
	cmd, exited := s.current, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGUSR1)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

func (s *sidecar) serveReadiness(ctx context.Context, ready <-chan struct{}) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz/ready", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-ready:
			fmt.Fprintln(w, "ready")
		default:
			http.Error(w, "proxy not configured yet", http.StatusServiceUnavailable)
		}
	})
	srv := &http.Server{Addr: net.JoinHostPort("", strconv.Itoa(proxyconfig.ReadinessPort)), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Printf("readiness server: %v", err)
	}
}

// call does one request to istiod and decodes its JSON answer.
func (s *sidecar) call(ctx context.Context, method, path string, body []byte, into any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.istiod+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Pod", s.pod.namespace+"/"+s.pod.name)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, into)
}

// writeFile replaces path atomically, readable by the proxy only.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
