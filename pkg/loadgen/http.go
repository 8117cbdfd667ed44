package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// EchoPath is the HTTP path of the echo handler; the response size is the query
// parameter resp (POST /echo?resp=N).
const EchoPath = "/echo"

// HealthPath answers 200 with an empty body, for readiness probes.
const HealthPath = "/healthz"

func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(HealthPath, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc(EchoPath, s.serveEcho)
	return mux
}

func (s *Server) serveEcho(w http.ResponseWriter, r *http.Request) {
	resp := 0
	if v := r.URL.Query().Get("resp"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > MaxMessageBytes {
			http.Error(w, fmt.Sprintf("resp=%q: want a byte count in 0..%d", v, MaxMessageBytes), http.StatusBadRequest)
			return
		}
		resp = n
	}
	received, err := io.Copy(io.Discard, io.LimitReader(r.Body, MaxMessageBytes+1))
	if err != nil {
		return
	}
	if received > MaxMessageBytes {
		http.Error(w, fmt.Sprintf("request body exceeds %d bytes", MaxMessageBytes), http.StatusRequestEntityTooLarge)
		return
	}
	s.beforeReply()
	// Counted before replying, so a client that has its response sees it counted.
	s.record(received, int64(resp))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(resp))
	w.WriteHeader(http.StatusOK)
	_ = writePayload(w, resp)
}

// httpClient sends POST /echo over HTTP/1.1 (one shared transport with a pool of
// keep-alive connections) or h2c (one transport, hence one connection, per pool
// slot; workers are spread over them).
type httpClient struct {
	cfg        LoadConfig
	url        string
	payload    []byte
	clients    []*http.Client
	transports []*http.Transport
	wantMajor  int
}

func newHTTPClient(cfg LoadConfig) *httpClient {
	c := &httpClient{
		cfg:     cfg,
		url:     "http://" + cfg.Target + EchoPath + "?resp=" + strconv.Itoa(cfg.ResponseBytes),
		payload: make([]byte, cfg.RequestBytes),
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	newTransport := func() *http.Transport {
		return &http.Transport{
			DialContext:           dialer.DialContext,
			MaxIdleConns:          cfg.Connections,
			MaxIdleConnsPerHost:   cfg.Connections,
			MaxConnsPerHost:       cfg.Connections,
			IdleConnTimeout:       5 * time.Minute,
			DisableCompression:    true,
			ResponseHeaderTimeout: cfg.Timeout,
		}
	}
	if cfg.Protocol == H2C {
		c.wantMajor = 2
		for range cfg.Connections {
			t := newTransport()
			t.MaxIdleConns, t.MaxIdleConnsPerHost, t.MaxConnsPerHost = 1, 1, 1
			var p http.Protocols
			p.SetUnencryptedHTTP2(true)
			t.Protocols = &p
			c.transports = append(c.transports, t)
		}
	} else {
		c.wantMajor = 1
		t := newTransport()
		var p http.Protocols
		p.SetHTTP1(true)
		t.Protocols = &p
		c.transports = append(c.transports, t)
	}
	for _, t := range c.transports {
		c.clients = append(c.clients, &http.Client{Transport: t})
	}
	return c
}

func (c *httpClient) do(ctx context.Context, w int) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(c.payload))
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.clients[w%len(c.clients)].Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return fmt.Errorf("reading response body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("echo server answered %s", resp.Status)
	}
	if resp.ProtoMajor != c.wantMajor {
		return fmt.Errorf("%s target answered with %s: is it the right port and protocol?", c.cfg.Protocol, resp.Proto)
	}
	if n != int64(c.cfg.ResponseBytes) {
		return fmt.Errorf("response body has %d bytes, want %d", n, c.cfg.ResponseBytes)
	}
	return nil
}

func (c *httpClient) close() {
	for _, t := range c.transports {
		t.CloseIdleConnections()
	}
}
