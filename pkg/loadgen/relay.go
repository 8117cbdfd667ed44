package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// HandlerTimeBytes is how much of a relay's response payload carries its
// handler time: the first 8 bytes, as big-endian nanoseconds, when the
// response has at least that many bytes. The rest of the payload is zeros,
// like the echo server's, so every client of the echo protocols reads a
// relay's answers unchanged. A plain echo server's answer carries 0, which
// means "not reported".
const HandlerTimeBytes = 8

// defaultRelayTimeout bounds each downstream call of a relay.
const defaultRelayTimeout = 5 * time.Second

// RelayConfig configures a relay: a service of a multi-hop test application.
// On every request it calls each of its listener's downstream services in
// parallel (the fan-out), waits for all of them, then answers with the
// response size its caller asked for; a listener without calls is a leaf
// that echoes. It speaks the echo protocols (tcp or http, see [Protocol]),
// so the load generator and the echo server interoperate with it.
//
// Every listener has its own downstream targets, so one relay process can
// serve a meshed port whose calls go through the mesh and a bypass port
// whose calls go around it: a mesh/bypass comparison on the same processes.
type RelayConfig struct {
	// Name names the service in its stats.
	Name string `json:"name"`
	// Protocol is the protocol served on every listener: tcp or http.
	Protocol Protocol `json:"protocol"`
	// Listeners are the ports served and what each one calls.
	Listeners []RelayListener `json:"listeners"`
	// AdminSocket, if set, is a Unix socket path on which GET /stats answers
	// the relay's RelayStats as JSON (GET /stats?reset=1 also starts a new
	// measurement window). A Unix socket, unlike a port, is reachable from
	// outside the relay's network namespace and never intercepted.
	AdminSocket string `json:"adminSocket,omitempty"`
	// Timeout bounds each downstream call; zero means 5 s.
	Timeout time.Duration `json:"timeoutNanos,omitempty"`
}

// RelayListener is one port of a relay.
type RelayListener struct {
	// Name labels the listener in stats, e.g. "mesh" or "bypass".
	Name string `json:"name"`
	// Address is the listen address, e.g. ":8080".
	Address string `json:"address"`
	// Calls are made, in parallel, for every request; none makes a leaf.
	Calls []RelayCall `json:"calls,omitempty"`
}

// RelayCall is one downstream call a relay makes per request.
type RelayCall struct {
	// To names the callee in stats.
	To string `json:"to"`
	// Protocol is the callee's protocol: tcp or http.
	Protocol Protocol `json:"protocol"`
	// Target is the callee's host:port.
	Target string `json:"target"`
	// RequestBytes and ResponseBytes are the payload sizes of the call.
	RequestBytes  int `json:"requestBytes"`
	ResponseBytes int `json:"responseBytes"`
}

// Validate checks c without doing any I/O.
func (c RelayConfig) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: relay %q: "+format, append([]any{ErrInvalidConfig, c.Name}, a...)...)
	}
	if c.Protocol != TCP && c.Protocol != HTTP {
		return bad("protocol %q: a relay serves tcp or http", c.Protocol)
	}
	if len(c.Listeners) == 0 {
		return bad("no listeners")
	}
	if c.Timeout < 0 {
		return bad("timeout %v is negative", c.Timeout)
	}
	names := map[string]bool{}
	for _, l := range c.Listeners {
		if l.Name == "" || names[l.Name] {
			return bad("listener names must be set and unique, got %q", l.Name)
		}
		names[l.Name] = true
		if _, _, err := net.SplitHostPort(l.Address); err != nil {
			return bad("listener %s: address %q: %w", l.Name, l.Address, err)
		}
		for _, call := range l.Calls {
			if call.Protocol != TCP && call.Protocol != HTTP {
				return bad("call to %s: protocol %q: a relay calls over tcp or http", call.To, call.Protocol)
			}
			if _, _, err := net.SplitHostPort(call.Target); err != nil {
				return bad("call to %s: target %q: %w", call.To, call.Target, err)
			}
			if call.RequestBytes < 0 || call.RequestBytes > MaxMessageBytes || call.ResponseBytes < 0 || call.ResponseBytes > MaxMessageBytes {
				return bad("call to %s: sizes %d/%d outside 0..%d", call.To, call.RequestBytes, call.ResponseBytes, MaxMessageBytes)
			}
		}
	}
	return nil
}

// HistogramSummary is one latency distribution of a relay's stats.
type HistogramSummary struct {
	Count     int64   `json:"count"`
	P50Micros float64 `json:"p50Micros"`
	P99Micros float64 `json:"p99Micros"`
	// Histogram is the HdrHistogram V2 compressed encoding (µs, the geometry
	// of [Result]), for merging windows.
	Histogram string `json:"histogram,omitempty"`
}

// CallStats is what a relay measured of one downstream call.
type CallStats struct {
	To     string `json:"to"`
	Calls  int64  `json:"calls"`
	Errors int64  `json:"errors"`
	// Latency is the call's round trip as the relay saw it.
	Latency HistogramSummary `json:"latency"`
	// Edge is, per call, the round trip minus the handler time the callee
	// reported: the time spent on the way there and back (network, proxies,
	// queueing), not in the callee. Calls whose answer carried no handler
	// time are not in it.
	Edge HistogramSummary `json:"edge"`
}

// ListenerStats is what a relay measured on one listener.
type ListenerStats struct {
	Name     string `json:"name"`
	Requests int64  `json:"requests"`
	// Errors counts requests that failed because a downstream call failed.
	Errors int64 `json:"errors"`
	// Handler is the time from a request read to its answer being written:
	// the downstream calls and the relay's own work.
	Handler HistogramSummary `json:"handler"`
	Calls   []CallStats      `json:"calls,omitempty"`
}

// RelayStats is a relay's measurement window.
type RelayStats struct {
	Name      string          `json:"name"`
	Listeners []ListenerStats `json:"listeners"`
}

// Listener returns the stats of the listener called name.
func (s RelayStats) Listener(name string) (ListenerStats, bool) {
	for _, l := range s.Listeners {
		if l.Name == name {
			return l, true
		}
	}
	return ListenerStats{}, false
}

// Call returns the stats of the call to callee to.
func (s ListenerStats) Call(to string) (CallStats, bool) {
	for _, c := range s.Calls {
		if c.To == to {
			return c, true
		}
	}
	return CallStats{}, false
}

// Relay is a running relay. Close it to stop serving.
type Relay struct {
	cfg       RelayConfig
	listeners []*relayListener
	admin     *http.Server
	adminL    net.Listener

	tcp connSet

	wg        sync.WaitGroup
	closeOnce sync.Once
	stopCtx   func() bool
}

// relayListener is one served port with its callers and measurements.
type relayListener struct {
	cfg     RelayListener
	l       net.Listener
	http    *http.Server
	callers []relayCaller

	mu       sync.Mutex
	requests int64
	errors   int64
	handler  hist
	calls    []callRecord
}

type callRecord struct {
	calls, errors int64
	latency, edge hist
}

// relayCaller makes one downstream call and returns the callee's reported
// handler time (0 if none).
type relayCaller interface {
	call(ctx context.Context) (time.Duration, error)
	close()
}

// ServeRelay validates cfg, binds every listener (and the admin socket) and
// serves until ctx is done or Close is called.
func ServeRelay(ctx context.Context, cfg RelayConfig) (_ *Relay, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultRelayTimeout
	}
	r := &Relay{cfg: cfg}
	defer func() {
		if err != nil {
			_ = r.Close()
		}
	}()
	var lc net.ListenConfig
	for _, lcfg := range cfg.Listeners {
		l, err := lc.Listen(ctx, "tcp", lcfg.Address)
		if err != nil {
			return nil, fmt.Errorf("relay %s: listening on %s: %w", cfg.Name, lcfg.Address, err)
		}
		rl := &relayListener{cfg: lcfg, l: l, handler: newHist()}
		for _, c := range lcfg.Calls {
			rl.calls = append(rl.calls, callRecord{latency: newHist(), edge: newHist()})
			rl.callers = append(rl.callers, newRelayCaller(c, cfg.Timeout))
		}
		r.listeners = append(r.listeners, rl)
	}
	if cfg.AdminSocket != "" {
		_ = os.Remove(cfg.AdminSocket)
		if r.adminL, err = lc.Listen(ctx, "unix", cfg.AdminSocket); err != nil {
			return nil, fmt.Errorf("relay %s: listening on admin socket %s: %w", cfg.Name, cfg.AdminSocket, err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/stats", func(w http.ResponseWriter, req *http.Request) {
			st := r.Stats(req.URL.Query().Get("reset") == "1")
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(st)
		})
		r.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		r.wg.Go(func() { _ = r.admin.Serve(r.adminL) })
	}
	for _, rl := range r.listeners {
		switch cfg.Protocol {
		case TCP:
			r.wg.Go(func() { r.serveTCP(rl) })
		case HTTP:
			var protocols http.Protocols
			protocols.SetHTTP1(true)
			mux := http.NewServeMux()
			mux.HandleFunc(HealthPath, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
			mux.HandleFunc(EchoPath, func(w http.ResponseWriter, req *http.Request) { r.serveHTTP(rl, w, req) })
			rl.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute, Protocols: &protocols}
			r.wg.Go(func() { _ = rl.http.Serve(rl.l) })
		}
	}
	r.stopCtx = context.AfterFunc(ctx, func() { _ = r.Close() })
	return r, nil
}

// Addrs returns every bound listener address in the order of the config.
func (r *Relay) Addrs() []string {
	out := make([]string, len(r.listeners))
	for i, rl := range r.listeners {
		out[i] = rl.l.Addr().String()
	}
	return out
}

// Stats returns the measurements since the start or the last reset; with
// reset, a new window starts.
func (r *Relay) Stats(reset bool) RelayStats {
	st := RelayStats{Name: r.cfg.Name}
	for _, rl := range r.listeners {
		st.Listeners = append(st.Listeners, rl.stats(reset))
	}
	return st
}

func (rl *relayListener) stats(reset bool) ListenerStats {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	ls := ListenerStats{Name: rl.cfg.Name, Requests: rl.requests, Errors: rl.errors, Handler: summarize(rl.handler)}
	for i, c := range rl.cfg.Calls {
		rec := rl.calls[i]
		ls.Calls = append(ls.Calls, CallStats{
			To: c.To, Calls: rec.calls, Errors: rec.errors,
			Latency: summarize(rec.latency), Edge: summarize(rec.edge),
		})
	}
	if reset {
		rl.requests, rl.errors = 0, 0
		rl.handler.h.Reset()
		for i := range rl.calls {
			rl.calls[i] = callRecord{latency: rl.calls[i].latency, edge: rl.calls[i].edge}
			rl.calls[i].latency.h.Reset()
			rl.calls[i].edge.h.Reset()
		}
	}
	return ls
}

func summarize(h hist) HistogramSummary {
	s := HistogramSummary{Count: h.h.TotalCount()}
	if s.Count > 0 {
		s.P50Micros = float64(h.h.ValueAtQuantile(50))
		s.P99Micros = float64(h.h.ValueAtQuantile(99))
	}
	if enc, err := h.h.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err == nil {
		s.Histogram = string(enc)
	}
	return s
}

// Close stops the listeners and the admin socket, closes open connections
// and waits for the serving goroutines. It is safe to call more than once.
func (r *Relay) Close() error {
	var errs []error
	r.closeOnce.Do(func() {
		if r.stopCtx != nil {
			r.stopCtx()
		}
		if r.admin != nil {
			errs = append(errs, r.admin.Close())
		}
		for _, rl := range r.listeners {
			if rl.http != nil {
				errs = append(errs, rl.http.Close())
			}
			if err := rl.l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
			for _, c := range rl.callers {
				c.close()
			}
		}
		r.tcp.closeAll()
		r.wg.Wait()
		if r.cfg.AdminSocket != "" {
			_ = os.Remove(r.cfg.AdminSocket)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing relay %s: %w", r.cfg.Name, err)
	}
	return nil
}

// fanOut makes every downstream call of rl in parallel and records them.
func (rl *relayListener) fanOut(ctx context.Context) error {
	n := len(rl.callers)
	if n == 0 {
		return nil
	}
	type outcome struct {
		rtt, handler time.Duration
		err          error
	}
	outs := make([]outcome, n)
	one := func(i int) {
		start := time.Now()
		h, err := rl.callers[i].call(ctx)
		outs[i] = outcome{rtt: time.Since(start), handler: h, err: err}
	}
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() { one(i) })
	}
	one(0)
	wg.Wait()
	rl.mu.Lock()
	defer rl.mu.Unlock()
	var errs []error
	for i, o := range outs {
		rec := &rl.calls[i]
		rec.calls++
		if o.err != nil {
			rec.errors++
			errs = append(errs, fmt.Errorf("calling %s at %s: %w", rl.cfg.Calls[i].To, rl.cfg.Calls[i].Target, o.err))
			continue
		}
		rec.latency.record(o.rtt)
		if o.handler > 0 && o.handler <= o.rtt {
			rec.edge.record(o.rtt - o.handler)
		}
	}
	return errors.Join(errs...)
}

// finish records one handled request.
func (rl *relayListener) finish(handler time.Duration, err error) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	rl.requests++
	if err != nil {
		rl.errors++
		return
	}
	rl.handler.record(handler)
}

// putHandlerTime writes d into the first HandlerTimeBytes of payload, if it
// is long enough.
func putHandlerTime(payload []byte, d time.Duration) {
	if len(payload) >= HandlerTimeBytes {
		binary.BigEndian.PutUint64(payload[:HandlerTimeBytes], uint64(max(d, 1)))
	}
}

// readHandlerTime reads the handler time a response payload starts with.
func readHandlerTime(prefix []byte) time.Duration {
	if len(prefix) < HandlerTimeBytes {
		return 0
	}
	return time.Duration(binary.BigEndian.Uint64(prefix[:HandlerTimeBytes]))
}

// answer returns header zero bytes followed by a payload of n bytes that
// carries the handler time since start, measured as late as possible. It
// reuses buf when it is large enough.
func answer(buf []byte, header, n int, start time.Time) []byte {
	if cap(buf) < header+n {
		buf = make([]byte, header+n)
	}
	buf = buf[:header+n]
	clear(buf)
	putHandlerTime(buf[header:], time.Since(start))
	return buf
}

func (r *Relay) serveTCP(rl *relayListener) {
	r.tcp.serve(rl.l, func(c net.Conn) { r.serveTCPConn(rl, c) })
}

// serveTCPConn answers the echo tcp protocol on c; a failed downstream call
// closes the connection, which is how the tcp protocol reports errors.
func (r *Relay) serveTCPConn(rl *relayListener, c net.Conn) {
	br := bufio.NewReaderSize(c, 64<<10)
	var hdr [tcpHeaderBytes]byte
	var buf []byte
	for {
		_, respLen, ok := readTCPRequest(br, &hdr)
		if !ok {
			return
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
		err := rl.fanOut(ctx)
		cancel()
		if err != nil {
			rl.finish(0, err)
			return
		}
		buf = answer(buf, tcpRespHeaderBytes, int(respLen), start)
		binary.BigEndian.PutUint32(buf[:tcpRespHeaderBytes], respLen)
		rl.finish(time.Since(start), nil)
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

func (r *Relay) serveHTTP(rl *relayListener, w http.ResponseWriter, req *http.Request) {
	resp := 0
	if v := req.URL.Query().Get("resp"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > MaxMessageBytes {
			http.Error(w, fmt.Sprintf("resp=%q: want a byte count in 0..%d", v, MaxMessageBytes), http.StatusBadRequest)
			return
		}
		resp = n
	}
	if _, err := io.Copy(io.Discard, io.LimitReader(req.Body, MaxMessageBytes+1)); err != nil {
		return
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(req.Context(), r.cfg.Timeout)
	err := rl.fanOut(ctx)
	cancel()
	if err != nil {
		rl.finish(0, err)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	body := answer(nil, 0, resp, start)
	rl.finish(time.Since(start), nil)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(resp))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func newRelayCaller(c RelayCall, timeout time.Duration) relayCaller {
	if c.Protocol == TCP {
		req := make([]byte, tcpHeaderBytes+c.RequestBytes)
		binary.BigEndian.PutUint32(req[0:4], uint32(c.RequestBytes))
		binary.BigEndian.PutUint32(req[4:8], uint32(c.ResponseBytes))
		return &tcpCaller{cfg: c, request: req, idle: make(chan net.Conn, 256), dialer: net.Dialer{Timeout: timeout}}
	}
	var p http.Protocols
	p.SetHTTP1(true)
	t := &http.Transport{
		MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 5 * time.Minute,
		DisableCompression: true, ResponseHeaderTimeout: timeout, Protocols: &p,
		DialContext: (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
	}
	return &httpCaller{
		cfg: c, payload: make([]byte, c.RequestBytes), transport: t, client: &http.Client{Transport: t},
		url: "http://" + c.Target + EchoPath + "?resp=" + strconv.Itoa(c.ResponseBytes),
	}
}

// tcpCaller keeps a pool of idle connections: a tcp connection carries one
// request at a time, and parallel requests to the relay need several.
type tcpCaller struct {
	cfg     RelayCall
	request []byte
	idle    chan net.Conn
	dialer  net.Dialer
}

func (c *tcpCaller) call(ctx context.Context) (time.Duration, error) {
	var conn net.Conn
	select {
	case conn = <-c.idle:
	default:
		var err error
		if conn, err = c.dialer.DialContext(ctx, "tcp", c.cfg.Target); err != nil {
			return 0, err
		}
	}
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	h, err := c.roundTrip(conn)
	if err != nil {
		_ = conn.Close()
		return 0, err
	}
	select {
	case c.idle <- conn:
	default:
		_ = conn.Close()
	}
	return h, nil
}

func (c *tcpCaller) roundTrip(conn net.Conn) (time.Duration, error) {
	if _, err := conn.Write(c.request); err != nil {
		return 0, fmt.Errorf("writing request: %w", err)
	}
	var hdr [tcpRespHeaderBytes]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return 0, fmt.Errorf("reading response header: %w", err)
	}
	if n := binary.BigEndian.Uint32(hdr[:]); n != uint32(c.cfg.ResponseBytes) {
		return 0, fmt.Errorf("response announces %d bytes, want %d", n, c.cfg.ResponseBytes)
	}
	var prefix [HandlerTimeBytes]byte
	head := min(c.cfg.ResponseBytes, HandlerTimeBytes)
	if _, err := io.ReadFull(conn, prefix[:head]); err != nil {
		return 0, fmt.Errorf("reading response: %w", err)
	}
	if _, err := io.CopyN(io.Discard, conn, int64(c.cfg.ResponseBytes-head)); err != nil {
		return 0, fmt.Errorf("reading response: %w", err)
	}
	return readHandlerTime(prefix[:head]), nil
}

func (c *tcpCaller) close() {
	for {
		select {
		case conn := <-c.idle:
			_ = conn.Close()
		default:
			return
		}
	}
}

// httpCaller posts to the callee's echo path over HTTP/1.1 keep-alive.
type httpCaller struct {
	cfg       RelayCall
	url       string
	payload   []byte
	transport *http.Transport
	client    *http.Client
}

func (c *httpCaller) call(ctx context.Context) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(c.payload))
	if err != nil {
		return 0, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	var prefix [HandlerTimeBytes]byte
	head, err := io.ReadFull(resp.Body, prefix[:min(c.cfg.ResponseBytes, HandlerTimeBytes)])
	if err != nil {
		return 0, fmt.Errorf("reading response body: %w", err)
	}
	rest, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return 0, fmt.Errorf("reading response body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("callee answered %s", resp.Status)
	}
	if n := int64(head) + rest; n != int64(c.cfg.ResponseBytes) {
		return 0, fmt.Errorf("response body has %d bytes, want %d", n, c.cfg.ResponseBytes)
	}
	return readHandlerTime(prefix[:head]), nil
}

func (c *httpCaller) close() { c.transport.CloseIdleConnections() }

// FetchRelayStats asks the relay whose admin socket is at socketPath for its
// stats; with reset, the relay starts a new window.
func FetchRelayStats(ctx context.Context, socketPath string, reset bool) (*RelayStats, error) {
	t := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socketPath)
	}}
	defer t.CloseIdleConnections()
	url := "http://relay/stats"
	if reset {
		url += "?reset=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("building stats request: %w", err)
	}
	resp, err := (&http.Client{Transport: t}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("asking relay at %s for stats: %w", socketPath, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("relay at %s answered %s", socketPath, resp.Status)
	}
	var st RelayStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("decoding stats of relay at %s: %w", socketPath, err)
	}
	return &st, nil
}
