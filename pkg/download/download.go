// Package download reads a file named by an http or https URL, as kubectl's
// `-f URL` does, within a size and a time limit so that a slow or endless
// server fails the command instead of hanging it or filling memory.
package download

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Timeout bounds one download, connection and body included.
const Timeout = 30 * time.Second

// ErrTooLarge is returned when the body is longer than the limit.
var ErrTooLarge = errors.New("too large")

// IsURL reports whether name is an http or https URL rather than a path.
func IsURL(name string) bool {
	return strings.HasPrefix(name, "http://") || strings.HasPrefix(name, "https://")
}

// Get returns the body of url, at most max bytes, within Timeout; client
// nil means http.DefaultClient.
func Get(ctx context.Context, client *http.Client, url string, max int64) ([]byte, error) {
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("downloading %s: %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", url, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("downloading %s: more than %d bytes: %w", url, max, ErrTooLarge)
	}
	return data, nil
}
