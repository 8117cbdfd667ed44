package telemetry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// MaxPrometheusResponseBytes bounds one Prometheus answer: the largest
// query result, every edge of a big mesh, is tens of MiB. Prometheus's Go
// client reads answers whole, so a server (or a proxy in front of it) that
// sends without end would otherwise exhaust memory.
const MaxPrometheusResponseBytes = 256 << 20

// ErrResponseTooLarge is wrapped by the error of a read past a response's
// limit.
var ErrResponseTooLarge = errors.New("response too large")

// boundedTransport gives every response body a limit; reading past it fails.
type boundedTransport struct {
	rt    http.RoundTripper
	limit int64
}

// RoundTrip implements http.RoundTripper.
func (b boundedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt := b.rt
	if rt == nil {
		rt = http.DefaultTransport
	}
	resp, err := rt.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &boundedBody{rc: resp.Body, left: b.limit, limit: b.limit}
	return resp, nil
}

// boundedBody reads at most limit bytes of rc.
type boundedBody struct {
	rc          io.ReadCloser
	left, limit int64
}

// Read implements io.Reader: it fails once the body turns out longer than
// the limit.
func (b *boundedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, fmt.Errorf("answer larger than %d MiB, more than any query result: not read further: %w", b.limit>>20, ErrResponseTooLarge)
	}
	return n, err
}

// Close implements io.Closer.
func (b *boundedBody) Close() error { return b.rc.Close() }
