package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
)

// zeros is the read-only source of every payload byte: content does not matter to a
// proxy that neither compresses nor inspects bodies, and sharing it keeps the echo
// path free of allocations.
var zeros = make([]byte, 64<<10)

// ServerStats counts what a [Server] has handled since it started, over all its
// listeners. Bytes are payload bytes as defined by [Protocol].
type ServerStats struct {
	// Requests is the number of requests answered.
	Requests int64
	// BytesReceived is the sum of request payloads read.
	BytesReceived int64
	// BytesSent is the sum of response payloads written.
	BytesSent int64
}

// Server is a running echo server. Close it to stop listening.
type Server struct {
	cfg       ServerConfig
	listeners []net.Listener

	requests      atomic.Int64
	bytesReceived atomic.Int64
	bytesSent     atomic.Int64

	httpServers []*http.Server
	grpcServer  *grpc.Server

	tcp connSet

	wg        sync.WaitGroup
	closeOnce sync.Once
	stopCtx   func() bool
}

// Serve validates cfg, binds every listen address and serves cfg.Protocol on each
// until ctx is done or Close is called. Binding errors are returned before anything
// is served, so a port in use is reported here and not later.
func Serve(ctx context.Context, cfg ServerConfig) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg}
	var lc net.ListenConfig
	for _, addr := range cfg.Addresses() {
		l, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			for _, l := range s.listeners {
				_ = l.Close()
			}
			return nil, fmt.Errorf("listening on %s for %s echo server: %w", addr, cfg.Protocol, err)
		}
		s.listeners = append(s.listeners, l)
	}

	switch cfg.Protocol {
	case TCP:
		for _, l := range s.listeners {
			s.wg.Go(func() { s.serveTCP(l) })
		}
	case HTTP, H2C:
		var protocols http.Protocols
		protocols.SetHTTP1(true)
		if cfg.Protocol == H2C {
			protocols.SetUnencryptedHTTP2(true)
		}
		for _, l := range s.listeners {
			hs := &http.Server{
				Handler:           s.httpHandler(),
				ReadHeaderTimeout: 10 * time.Second,
				IdleTimeout:       5 * time.Minute,
				Protocols:         &protocols,
				HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: 1000},
			}
			s.httpServers = append(s.httpServers, hs)
			s.wg.Go(func() { _ = hs.Serve(l) })
		}
	case GRPC:
		s.grpcServer = newGRPCServer(s)
		for _, l := range s.listeners {
			s.wg.Go(func() { _ = s.grpcServer.Serve(l) })
		}
	}
	s.stopCtx = context.AfterFunc(ctx, func() { _ = s.Close() })
	return s, nil
}

// Addr returns the first bound address (with the real port if ":0" was asked for).
func (s *Server) Addr() string { return s.listeners[0].Addr().String() }

// Addrs returns every bound address in the order of [ServerConfig.Listen].
func (s *Server) Addrs() []string {
	out := make([]string, len(s.listeners))
	for i, l := range s.listeners {
		out[i] = l.Addr().String()
	}
	return out
}

// Stats returns the counters of the requests answered so far.
func (s *Server) Stats() ServerStats {
	return ServerStats{
		Requests:      s.requests.Load(),
		BytesReceived: s.bytesReceived.Load(),
		BytesSent:     s.bytesSent.Load(),
	}
}

// Close stops the listeners, closes open connections and waits for the serving
// goroutines to return. It is safe to call more than once.
func (s *Server) Close() error {
	var errs []error
	s.closeOnce.Do(func() {
		if s.stopCtx != nil {
			s.stopCtx()
		}
		for _, hs := range s.httpServers {
			if err := hs.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if s.grpcServer != nil {
			s.grpcServer.Stop()
		}
		for _, l := range s.listeners {
			if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
		s.tcp.closeAll()
		s.wg.Wait()
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing echo server: %w", err)
	}
	return nil
}

// record counts one answered request.
func (s *Server) record(received, sent int64) {
	s.requests.Add(1)
	s.bytesReceived.Add(received)
	s.bytesSent.Add(sent)
}

func (s *Server) beforeReply() {
	if s.cfg.beforeReply != nil {
		s.cfg.beforeReply()
	}
}
