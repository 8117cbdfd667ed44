//go:build linux && privileged

package datapath

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The privileged suite runs its apps by re-executing a copy of the test
// binary (readable by nobody) with helperArg as its first argument.
const (
	helperArg   = "-datapath-helper"
	nobody      = 65534
	meshedPort  = 8080
	meshedPort2 = 8081
	bypassPort  = 9090
	testTimeout = 60 * time.Second
)

var (
	runPrefix string // every namespace of this run starts with it
	helperBin string // world-executable copy of the test binary
	testSeq   atomic.Int32
	// buildMu is held shared by every Build of the suite and exclusively by
	// the signal handler, so that no datapath is created after its cleanup.
	buildMu sync.RWMutex
)

// testBuild is Build, unless the suite is being interrupted.
func testBuild(ctx context.Context, spec Spec) (*Datapath, error) {
	buildMu.RLock()
	defer buildMu.RUnlock()
	return Build(ctx, spec)
}

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == helperArg {
		if err := runHelper(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "helper: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "the privileged datapath suite creates network namespaces: run it as root")
		os.Exit(1)
	}
	b := make([]byte, 2)
	if _, err := rand.Read(b); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	runPrefix = "mt" + hex.EncodeToString(b)
	helperDir, err := installHelper()
	if err != nil {
		fmt.Fprintf(os.Stderr, "installing the helper binary: %v\n", err)
		os.Exit(1)
	}
	cleanup := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := Cleanup(ctx, runPrefix); err != nil {
			fmt.Fprintf(os.Stderr, "cleanup: %v\n", err)
		}
		os.RemoveAll(helperDir)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		buildMu.Lock() // never released: the process exits
		fmt.Fprintf(os.Stderr, "%v: removing datapaths with prefix %s\n", s, runPrefix)
		cleanup()
		os.Exit(2)
	}()
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// installHelper copies the test binary where uid nobody can execute it.
func installHelper() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "meshinsight-datapath-test-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return dir, err
	}
	data, err := os.ReadFile(self)
	if err != nil {
		return dir, err
	}
	helperBin = filepath.Join(dir, "datapath-helper")
	return dir, os.WriteFile(helperBin, data, 0o755)
}

func helperArgv(args ...string) []string {
	return append([]string{helperBin, helperArg}, args...)
}

// runHelper is the app side:
//
//	http PORT...      HTTP server answering "port=P peer=ADDR"
//	tcp PORT...       TCP server writing "peer=ADDR\n", then echoing
//	get URL [CA CERT KEY]  one GET; prints "status=N via=V" (TLS when CA is given; CERT may be "-")
func runHelper(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: %s http|tcp PORT... | get URL [CA CERT KEY]", helperArg)
	}
	switch args[0] {
	case "http", "tcp":
		errc := make(chan error, len(args)-1)
		for _, p := range args[1:] {
			l, err := net.Listen("tcp", "0.0.0.0:"+p)
			if err != nil {
				return err
			}
			if args[0] == "http" {
				go func() {
					errc <- http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						_, _ = io.Copy(io.Discard, r.Body)
						fmt.Fprintf(w, "port=%s peer=%s", p, r.RemoteAddr)
					}))
				}()
				continue
			}
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						errc <- err
						return
					}
					go func() {
						defer c.Close()
						fmt.Fprintf(c, "peer=%s\n", c.RemoteAddr())
						_, _ = io.Copy(c, c)
					}()
				}
			}()
		}
		return <-errc
	case "get":
		tr := &http.Transport{}
		if len(args) == 5 {
			ca, err := os.ReadFile(args[2])
			if err != nil {
				return err
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(ca)
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, ServerName: identity(Server)}
			if args[3] != "-" {
				pair, err := tls.LoadX509KeyPair(args[3], args[4])
				if err != nil {
					return err
				}
				tr.TLSClientConfig.Certificates = []tls.Certificate{pair}
			}
		}
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(args[1])
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("status=%d via=%s body=%s\n", resp.StatusCode, strings.Join(resp.Header.Values(ViaHeader), ","), body)
		return nil
	}
	return fmt.Errorf("unknown helper mode %q", args[0])
}

// newPrefix returns a fresh datapath prefix of this run.
func newPrefix() string { return fmt.Sprintf("%s%02d", runPrefix, testSeq.Add(1)) }

// build builds a datapath for a test and closes it at the end.
func build(t *testing.T, ctx context.Context, spec Spec) *Datapath {
	t.Helper()
	spec.Prefix = newPrefix()
	d, err := testBuild(ctx, spec)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

// startApp starts the helper as nobody in the server pod and waits for ports.
func startApp(t *testing.T, ctx context.Context, d *Datapath, mode string, ports ...int) *Process {
	t.Helper()
	args := []string{mode}
	for _, p := range ports {
		args = append(args, strconv.Itoa(p))
	}
	proc, err := d.Start(ctx, Server, helperArgv(args...), nobody)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		if err := d.WaitListening(ctx, Server, p); err != nil {
			t.Fatalf("app: %v; output: %s", err, proc.Output())
		}
	}
	return proc
}

// httpClient sends requests from inside the client pod, as root (not the
// proxy uid, so they are intercepted like an app's).
func httpClient(d *Datapath) *http.Client {
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return d.Dial(ctx, Client, network, addr)
			},
			MaxIdleConnsPerHost: 4,
		},
	}
}

type reply struct {
	via  []string
	body string
}

func get(t *testing.T, c *http.Client, d *Datapath, port int) reply {
	t.Helper()
	resp, err := c.Get("http://" + d.ServerAddr(port).String() + "/")
	if err != nil {
		t.Fatalf("GET port %d: %v", port, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET port %d: status %d: %s", port, resp.StatusCode, body)
	}
	return reply{via: resp.Header.Values(ViaHeader), body: string(body)}
}

// haproxySessions sums the cumulative sessions (stot) of a haproxy frontend,
// read from the admin socket.
func haproxySessions(t *testing.T, d *Datapath, p Pod, frontend string) int {
	t.Helper()
	cfg, ok := d.ProxyConfig(p)
	if !ok {
		t.Fatalf("no proxy in the %s pod", p)
	}
	c, err := net.DialTimeout("unix", cfg.AdminSocket, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) > 7 && f[0] == frontend && f[1] == "FRONTEND" {
			n, err := strconv.Atoi(f[7])
			if err != nil {
				t.Fatalf("stot %q: %v", f[7], err)
			}
			return n
		}
	}
	t.Fatalf("no FRONTEND row for %s in %s's stats (%v)", frontend, p, sc.Err())
	return 0
}

// runGet runs the helper's get mode in the client pod as uid and returns its
// output and exit error.
func runGet(t *testing.T, ctx context.Context, d *Datapath, uid int, args ...string) (string, error) {
	t.Helper()
	proc, err := d.Start(ctx, Client, helperArgv(append([]string{"get"}, args...)...), uid)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-proc.Done():
	case <-ctx.Done():
		t.Fatal("helper get did not finish")
	}
	return proc.Output(), proc.Err()
}
