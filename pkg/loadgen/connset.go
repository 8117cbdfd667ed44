package loadgen

import (
	"errors"
	"net"
	"sync"
	"time"
)

// connSet serves the connections a TCP listener accepts, each on its own
// goroutine, and closes them all on shutdown: closing a net.Listener does
// not close the connections it accepted, and their handlers would block
// in Read forever.
type connSet struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// serve accepts on l until it is closed and runs handle for each
// connection, closing the connection when handle returns.
func (s *connSet) serve(l net.Listener, handle func(net.Conn)) {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary accept failures (e.g. EMFILE): back off instead of spinning.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		if s.conns == nil {
			s.conns = map[net.Conn]struct{}{}
		}
		s.conns[c] = struct{}{}
		// Add under the lock: closeAll's Wait then never races an Add.
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			handle(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			_ = c.Close()
		}()
	}
}

// closeAll closes every open connection, refuses new ones and waits for
// their handlers to return.
func (s *connSet) closeAll() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
