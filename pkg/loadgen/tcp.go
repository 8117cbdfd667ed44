package loadgen

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// tcpHeaderBytes is the request header of the tcp protocol: request payload length
// and wanted response length, both big-endian uint32.
const tcpHeaderBytes = 8

// tcpRespHeaderBytes is the response header: the payload length that follows, as a
// big-endian uint32. Without it a zero-byte response could not be waited for.
const tcpRespHeaderBytes = 4

func (s *Server) serveTCP(l net.Listener) { s.tcp.serve(l, s.serveTCPConn) }

// readTCPRequest reads one request frame (header, then the payload, which
// is discarded) and returns its size and the response size it asks for;
// false means the peer closed the connection or sent a bad frame.
func readTCPRequest(br *bufio.Reader, hdr *[tcpHeaderBytes]byte) (reqLen, respLen uint32, ok bool) {
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return 0, 0, false
	}
	reqLen = binary.BigEndian.Uint32(hdr[0:4])
	respLen = binary.BigEndian.Uint32(hdr[4:8])
	if reqLen > MaxMessageBytes || respLen > MaxMessageBytes {
		return 0, 0, false
	}
	if _, err := br.Discard(int(reqLen)); err != nil {
		return 0, 0, false
	}
	return reqLen, respLen, true
}

// serveTCPConn answers requests on c until the peer closes it or sends a bad frame.
func (s *Server) serveTCPConn(c net.Conn) {
	br := bufio.NewReaderSize(c, 64<<10)
	bw := bufio.NewWriterSize(c, 64<<10)
	var hdr [tcpHeaderBytes]byte
	for {
		reqLen, respLen, ok := readTCPRequest(br, &hdr)
		if !ok {
			return
		}
		s.beforeReply()
		s.record(int64(reqLen), int64(respLen))
		binary.BigEndian.PutUint32(hdr[:tcpRespHeaderBytes], respLen)
		if _, err := bw.Write(hdr[:tcpRespHeaderBytes]); err != nil {
			return
		}
		if err := writePayload(bw, int(respLen)); err != nil {
			return
		}
		if err := bw.Flush(); err != nil {
			return
		}
	}
}

// writePayload writes n payload bytes to w, in one write when n fits in zeros.
func writePayload(w io.Writer, n int) error {
	for n > 0 {
		chunk := min(n, len(zeros))
		if _, err := w.Write(zeros[:chunk]); err != nil {
			return err
		}
		n -= chunk
	}
	return nil
}

// tcpClient owns one connection per worker: a tcp connection carries one request at
// a time.
type tcpClient struct {
	cfg     LoadConfig
	request []byte // header and payload, identical for every request
	conns   []net.Conn
	scratch [][]byte
	dialer  net.Dialer
}

func newTCPClient(ctx context.Context, cfg LoadConfig) (*tcpClient, error) {
	c := &tcpClient{
		cfg:     cfg,
		conns:   make([]net.Conn, cfg.Connections),
		scratch: make([][]byte, cfg.Connections),
		dialer:  net.Dialer{Timeout: cfg.Timeout},
	}
	c.request = make([]byte, tcpHeaderBytes+cfg.RequestBytes)
	binary.BigEndian.PutUint32(c.request[0:4], uint32(cfg.RequestBytes))
	binary.BigEndian.PutUint32(c.request[4:8], uint32(cfg.ResponseBytes))
	for i := range c.conns {
		c.scratch[i] = make([]byte, min(max(cfg.ResponseBytes, 512), 64<<10))
		conn, err := c.dialer.DialContext(ctx, "tcp", cfg.Target)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("connecting to tcp echo server %s: %w", cfg.Target, err)
		}
		c.conns[i] = conn
	}
	return c, nil
}

// do sends one request on worker w's connection and reads the whole response. A
// connection that failed is closed and redialled on the next request.
func (c *tcpClient) do(ctx context.Context, w int) error {
	conn := c.conns[w]
	if conn == nil {
		var err error
		if conn, err = c.dialer.DialContext(ctx, "tcp", c.cfg.Target); err != nil {
			return fmt.Errorf("reconnecting to %s: %w", c.cfg.Target, err)
		}
		c.conns[w] = conn
	}
	deadline := time.Now().Add(c.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	// Unblock the read at once if the run is cancelled.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	err := c.roundTrip(conn, c.scratch[w])
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		_ = conn.Close()
		c.conns[w] = nil
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return err
	}
	return nil
}

func (c *tcpClient) roundTrip(conn net.Conn, scratch []byte) error {
	if _, err := conn.Write(c.request); err != nil {
		return fmt.Errorf("writing request: %w", err)
	}
	if _, err := io.ReadFull(conn, scratch[:tcpRespHeaderBytes]); err != nil {
		return fmt.Errorf("reading response header: %w", err)
	}
	if n := binary.BigEndian.Uint32(scratch); n != uint32(c.cfg.ResponseBytes) {
		return fmt.Errorf("response announces %d bytes, want %d", n, c.cfg.ResponseBytes)
	}
	for left := c.cfg.ResponseBytes; left > 0; {
		n, err := conn.Read(scratch[:min(left, len(scratch))])
		left -= n
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("reading response: connection closed with %d of %d bytes missing", left, c.cfg.ResponseBytes)
			}
			return fmt.Errorf("reading response: %w", err)
		}
	}
	return nil
}

func (c *tcpClient) close() {
	for _, conn := range c.conns {
		if conn != nil {
			_ = conn.Close()
		}
	}
}
