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
)

// LoadPath is where a load server takes load jobs.
const LoadPath = "/v1/load"

// LoadServer runs load jobs for the agent from inside the benchmark client
// pod, as the client application's own process: its requests leave
// through the pod's sidecar like any application traffic, and the agent
// needs neither to enter the pod's network namespace (CAP_SYS_ADMIN) nor to
// open it (CAP_SYS_PTRACE on the namespace file). Jobs must carry the run's
// bearer token; one job runs at a time.
type LoadServer struct {
	// Token is the bearer token a job must present.
	Token string
	busy  sync.Mutex
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
	out, err := RunLoad(r.Context(), job)
	reply := loadReply{Outcome: out}
	if err != nil {
		reply.Error = err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(reply) // the agent sees a truncated reply as an error
}

// ServeLoad runs a load server on listen until ctx ends, with the token
// read from tokenFile.
func ServeLoad(ctx context.Context, listen, tokenFile string) error {
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return fmt.Errorf("reading the load token: %w", err)
	}
	token := strings.TrimSpace(string(tok))
	if token == "" {
		return fmt.Errorf("the load token in %s is empty", tokenFile)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", listen, err)
	}
	srv := &http.Server{Handler: &LoadServer{Token: token}, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving load jobs: %w", err)
	}
	return nil
}

// RemoteLoad runs load jobs on the load server at addr (host:port) with
// token. The job's own context bounds the request.
func RemoteLoad(addr, token string) func(context.Context, LoadJob) (*LoadOutcome, error) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
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
