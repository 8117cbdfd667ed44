package agent

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/meshinsight/kubectl-meshinsight/pkg/loadgen"
)

// LoadPath is where a load server takes load jobs.
const LoadPath = "/v1/load"

// LoadServer runs load jobs for the agent from inside the benchmark client
// pod, as the client application's own process: its requests leave
// through the pod's sidecar like any application traffic, and the agent
// needs neither to enter the pod's network namespace (CAP_SYS_ADMIN) nor to
// open it (CAP_SYS_PTRACE on the namespace file). Jobs must carry the run's
// bearer token; one job runs at a time.
//
// Like a long-lived client, it keeps its connections open from job to job
// (one loadgen.Session per target, protocol and connection count), so that
// the agent measures the proxies in steady state: connection set-up, and
// through a mesh the mTLS handshakes, happen once, in the first job to a
// target (the agent's warm-up), not in every measured cell.
type LoadServer struct {
	// Token is the bearer token a job must present.
	Token    string
	busy     sync.Mutex
	sessions map[sessionKey]*loadgen.Session
}

// sessionKey is what a session's connections are for.
type sessionKey struct {
	protocol    loadgen.Protocol
	target      string
	connections int
	maxInFlight int
}

// run runs a job on the server's sessions (s.busy held).
func (s *LoadServer) run(ctx context.Context, job LoadJob) (*LoadOutcome, error) {
	out := &LoadOutcome{}
	for i := range max(job.Rounds, 1) {
		r, err := s.runOn(ctx, job.Mesh)
		if err != nil {
			return out, fmt.Errorf("load round %d on %s: %w", i+1, job.Mesh.Target, err)
		}
		out.Mesh = append(out.Mesh, r)
		if job.Bypass.Target == "" {
			continue
		}
		r, err = s.runOn(ctx, job.Bypass)
		if err != nil {
			return out, fmt.Errorf("load round %d on %s: %w", i+1, job.Bypass.Target, err)
		}
		out.Bypass = append(out.Bypass, r)
	}
	return out, nil
}

// runOn runs cfg on its session, opening one when there is none; a session
// whose run failed is closed, so the next job starts with fresh
// connections.
func (s *LoadServer) runOn(ctx context.Context, cfg loadgen.LoadConfig) (*loadgen.Result, error) {
	key := sessionKey{cfg.Protocol, cfg.Target, cfg.Connections, cfg.MaxInFlight}
	if s.sessions == nil {
		s.sessions = map[sessionKey]*loadgen.Session{}
	}
	sess, ok := s.sessions[key]
	if !ok {
		var err error
		if sess, err = loadgen.Open(ctx, cfg); err != nil {
			return nil, err
		}
		s.sessions[key] = sess
	}
	r, err := sess.Run(ctx, cfg)
	if err != nil {
		sess.Close()
		delete(s.sessions, key)
	}
	return r, err
}

// Close closes the sessions' connections.
func (s *LoadServer) Close() {
	s.busy.Lock()
	defer s.busy.Unlock()
	for k, sess := range s.sessions {
		sess.Close()
		delete(s.sessions, k)
	}
}

// loadReply is a load server's answer: the outcome, or why there is none.
type loadReply struct {
	Outcome *LoadOutcome `json:"outcome,omitempty"`
	Error   string       `json:"error,omitempty"`
}

// maxJobBytes bounds a job's JSON.
const maxJobBytes = 1 << 20

func (s *LoadServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != LoadPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST a load job", http.StatusMethodNotAllowed)
		return
	}
	got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if s.Token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.Token)) != 1 {
		http.Error(w, "a valid bearer token is required", http.StatusUnauthorized)
		return
	}
	if !s.busy.TryLock() {
		http.Error(w, "a load job is already running", http.StatusConflict)
		return
	}
	defer s.busy.Unlock()
	var job LoadJob
	if err := json.NewDecoder(io.LimitReader(r.Body, maxJobBytes)).Decode(&job); err != nil {
		http.Error(w, fmt.Sprintf("decoding the load job: %v", err), http.StatusBadRequest)
		return
	}
	out, err := s.run(r.Context(), job)
	reply := loadReply{Outcome: out}
	if err != nil {
		reply.Error = err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(reply) // the agent sees a truncated reply as an error
}

// ServeLoad runs a load server on listen (host:port, or unix:PATH for a
// Unix socket) until ctx ends, with the token read from tokenFile.
func ServeLoad(ctx context.Context, listen, tokenFile string) error {
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return fmt.Errorf("reading the load token: %w", err)
	}
	token := strings.TrimSpace(string(tok))
	if token == "" {
		return fmt.Errorf("the load token in %s is empty", tokenFile)
	}
	network, addr := "tcp", listen
	if path, ok := strings.CutPrefix(listen, "unix:"); ok {
		network, addr = "unix", path
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", listen, err)
	}
	ls := &LoadServer{Token: token}
	srv := &http.Server{Handler: ls, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	defer ls.Close()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving load jobs: %w", err)
	}
	return nil
}

// RemoteLoad runs load jobs on the load server at addr (host:port, or
// unix:PATH) with token. The job's own context bounds the request.
func RemoteLoad(addr, token string) func(context.Context, LoadJob) (*LoadOutcome, error) {
	tr := &http.Transport{DisableKeepAlives: true}
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		addr = "load-server"
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
	}
	client := &http.Client{Transport: tr}
	return func(ctx context.Context, job LoadJob) (*LoadOutcome, error) {
		body, err := json.Marshal(job)
		if err != nil {
			return nil, fmt.Errorf("encoding the load job: %w", err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+LoadPath, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("sending the load job to the client pod's load server: %w", err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			return nil, fmt.Errorf("reading the load outcome: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("the client pod's load server answered %s: %s", resp.Status, strings.TrimSpace(string(data)))
		}
		var reply loadReply
		if err := json.Unmarshal(data, &reply); err != nil {
			return nil, fmt.Errorf("decoding the load outcome: %w", err)
		}
		if reply.Error != "" {
			return reply.Outcome, fmt.Errorf("load in the client pod: %s", reply.Error)
		}
		if reply.Outcome == nil {
			return nil, errors.New("the client pod's load server returned no outcome")
		}
		return reply.Outcome, nil
	}
}
