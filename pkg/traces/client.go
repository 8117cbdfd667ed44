package traces

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Query selects traces from the Jaeger query service.
type Query struct {
	// Service is required by Jaeger; Operation is optional.
	Service   string
	Operation string
	// Lookback is how far back from End to search; default 1h.
	Lookback time.Duration
	// End is the end of the search window; default now.
	End time.Time
	// Limit is the most traces to return; default 100.
	Limit int
}

// JaegerClient reads traces from a Jaeger query service's HTTP API
// (GET /api/traces), the API the Jaeger UI uses.
type JaegerClient struct {
	// BaseURL is the query service, e.g. http://localhost:16686 (a path prefix
	// such as /jaeger is kept).
	BaseURL string
	// HTTPClient defaults to http.DefaultClient.
	HTTPClient *http.Client
}

// maxResponseBytes bounds a query's response.
const maxResponseBytes = 512 << 20

// Traces runs q and returns the spans of the traces found, with the problems
// found while decoding them.
func (c *JaegerClient) Traces(ctx context.Context, q Query) ([]Span, []Warning, error) {
	if q.Service == "" {
		return nil, nil, errors.New("querying Jaeger: a service is required")
	}
	u, err := c.tracesURL(q)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("querying Jaeger: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("querying Jaeger at %s: %w: is the query service reachable (e.g. kubectl port-forward -n istio-system svc/tracing 16686:80)?", c.BaseURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading Jaeger's answer: %w", err)
	}
	if len(body) > maxResponseBytes {
		return nil, nil, fmt.Errorf("jaeger's answer is larger than %d bytes: lower --limit or --lookback", maxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("querying Jaeger at %s: HTTP %d: %s", c.BaseURL, resp.StatusCode, jaegerErrors(body))
	}
	var doc struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Data == nil {
		return nil, nil, fmt.Errorf("jaeger's answer has no data (is %s a Jaeger query service?)", c.BaseURL)
	}
	var spans []Span
	var warns []Warning
	if string(doc.Data) != "null" {
		format, s, w, err := Parse(body)
		if err != nil || format != Jaeger {
			return nil, nil, fmt.Errorf("jaeger's answer is not a list of traces (is %s a Jaeger query service?): %v", c.BaseURL, err)
		}
		spans, warns = s, w
	}
	if len(spans) == 0 {
		if msgs := jaegerErrorList(body); len(msgs) > 0 {
			return nil, nil, fmt.Errorf("querying Jaeger at %s: %s", c.BaseURL, strings.Join(msgs, "; "))
		}
	}
	return spans, warns, nil
}

// tracesURL builds the query. Jaeger's API reads start and end (µs); lookback is
// what the UI sends and is passed too.
func (c *JaegerClient) tracesURL(q Query) (string, error) {
	base, err := url.Parse(strings.TrimSpace(c.BaseURL))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return "", fmt.Errorf("jaeger URL %q: want e.g. http://localhost:16686", c.BaseURL)
	}
	if base.Scheme != "http" && base.Scheme != "https" {
		return "", fmt.Errorf("jaeger URL %q: scheme must be http or https", c.BaseURL)
	}
	lookback := q.Lookback
	if lookback <= 0 {
		lookback = time.Hour
	}
	end := q.End
	if end.IsZero() {
		end = time.Now()
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	v := url.Values{}
	v.Set("service", q.Service)
	if q.Operation != "" {
		v.Set("operation", q.Operation)
	}
	v.Set("lookback", lookbackParam(lookback))
	v.Set("start", strconv.FormatInt(end.Add(-lookback).UnixMicro(), 10))
	v.Set("end", strconv.FormatInt(end.UnixMicro(), 10))
	v.Set("limit", strconv.Itoa(limit))
	base.Path = strings.TrimSuffix(base.Path, "/") + "/api/traces"
	base.RawQuery = v.Encode()
	return base.String(), nil
}

// lookbackParam writes a duration as the UI does: 1h, 30m, 2d.
func lookbackParam(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// jaegerErrors renders the messages of Jaeger's {"errors": [{"code", "msg"}]},
// else the start of the body.
func jaegerErrors(body []byte) string {
	if msgs := jaegerErrorList(body); len(msgs) > 0 {
		return strings.Join(msgs, "; ")
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func jaegerErrorList(body []byte) []string {
	var doc struct {
		Errors []struct {
			Code int    `json:"code"`
			Msg  string `json:"msg"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return nil
	}
	var msgs []string
	for _, e := range doc.Errors {
		msgs = append(msgs, e.Msg)
	}
	return msgs
}
