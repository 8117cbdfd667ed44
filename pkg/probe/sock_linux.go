//go:build linux

package probe

import (
	"errors"
	"fmt"
	"sort"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// sockClasses names the socket kinds of enum sock_class in
// bpf/sock.bpf.c, in order.
var sockClasses = []string{"tcp", "tcp6", "udp", "udp6", "unix", "other"}

// nrSockClasses is NR_SOCK_CLASSES in bpf/sock.bpf.c.
const nrSockClasses = 8

// SocketStats counts the socket send and receive calls of one target
// process on one kind of socket since the target was added.
type SocketStats struct {
	TGID int
	// Transport is the socket kind: "tcp", "tcp6", "udp", "udp6", "unix" or
	// "other". IPv4-mapped addresses on IPv6 sockets count as "tcp6"/"udp6".
	Transport string

	SendCalls  uint64
	SendBytes  uint64
	SendErrors uint64
	RecvCalls  uint64
	// RecvBytes excludes MSG_PEEK reads, which leave the data queued.
	RecvBytes uint64
	// RecvErrors includes EAGAIN from non-blocking reads.
	RecvErrors uint64
}

// plus adds two sets of counters.
func plus(a, b sockSockStats) sockSockStats {
	a.SendCalls += b.SendCalls
	a.SendBytes += b.SendBytes
	a.SendErrors += b.SendErrors
	a.RecvCalls += b.RecvCalls
	a.RecvBytes += b.RecvBytes
	a.RecvErrors += b.RecvErrors
	return a
}

type sockKey struct {
	tgid  int
	class int
}

// Sockets counts socket calls and bytes of target processes with the
// tp_btf sock_send_length/sock_recv_length programs of bpf/sock.bpf.c
// (Linux 6.3+).
type Sockets struct {
	objs    sockObjects
	targets targetVar
	links   []link.Link
	// retired holds the counts of removed targets, whose slots may be
	// reused.
	retired map[sockKey]sockSockStats
}

// NewSockets loads the socket programs without attaching them.
func NewSockets() (*Sockets, error) {
	s := &Sockets{retired: map[sockKey]sockSockStats{}}
	if err := loadSockObjects(&s.objs, nil); err != nil {
		return nil, fmt.Errorf("loading sock objects: %w", err)
	}
	s.targets.v = s.objs.Targets
	return s, nil
}

// Start adds target processes and attaches the programs if they are not
// attached yet.
func (s *Sockets) Start(tgids []int) error {
	if err := s.targets.add(tgids, s.zeroSlot); err != nil {
		return err
	}
	if s.links != nil {
		return nil
	}
	links, err := attachTracing(s.objs.SockSendLength, s.objs.SockRecvLength)
	if err != nil {
		return err
	}
	s.links = links
	return nil
}

// RemoveTargets stops counting the given processes. Their counts so far stay
// in snapshots.
func (s *Sockets) RemoveTargets(tgids []int) error {
	return s.targets.remove(tgids, func(slot, tgid int) error {
		for class := range sockClasses {
			st, err := s.readSlot(slot, class)
			if err != nil {
				return err
			}
			k := sockKey{tgid, class}
			s.retired[k] = plus(s.retired[k], st)
		}
		return nil
	})
}

// zeroSlot clears the counters of a slot about to be (re)used.
func (s *Sockets) zeroSlot(slot int) error {
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return err
	}
	zero := make([]sockSockStats, ncpu)
	for class := range nrSockClasses {
		if err := s.objs.Socks.Put(uint32(slot*nrSockClasses+class), zero); err != nil {
			return fmt.Errorf("clearing socket counters: %w", err)
		}
	}
	return nil
}

// readSlot sums the per-CPU counters of one slot and class.
func (s *Sockets) readSlot(slot, class int) (sockSockStats, error) {
	var perCPU []sockSockStats
	if err := s.objs.Socks.Lookup(uint32(slot*nrSockClasses+class), &perCPU); err != nil {
		return sockSockStats{}, fmt.Errorf("reading socket counters: %w", err)
	}
	var sum sockSockStats
	for _, v := range perCPU {
		sum = plus(sum, v)
	}
	return sum, nil
}

// Snapshot returns cumulative counts per process and socket kind that saw
// any call, sorted by TGID and Transport.
func (s *Sockets) Snapshot() ([]SocketStats, error) {
	totals := map[sockKey]sockSockStats{}
	for k, v := range s.retired {
		totals[k] = v
	}
	for slot, t := range s.targets.slots {
		if t == 0 {
			break
		}
		if t == targetRemoved {
			continue
		}
		for class := range sockClasses {
			v, err := s.readSlot(slot, class)
			if err != nil {
				return nil, err
			}
			k := sockKey{int(t), class}
			totals[k] = plus(totals[k], v)
		}
	}
	var out []SocketStats
	for k, v := range totals {
		if v.SendCalls == 0 && v.RecvCalls == 0 {
			continue
		}
		out = append(out, SocketStats{
			TGID:       k.tgid,
			Transport:  sockClasses[k.class],
			SendCalls:  v.SendCalls,
			SendBytes:  v.SendBytes,
			SendErrors: v.SendErrors,
			RecvCalls:  v.RecvCalls,
			RecvBytes:  v.RecvBytes,
			RecvErrors: v.RecvErrors,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].TGID != out[j].TGID {
			return out[i].TGID < out[j].TGID
		}
		return out[i].Transport < out[j].Transport
	})
	return out, nil
}

// Close detaches the programs and frees their maps.
func (s *Sockets) Close() error {
	err := closeLinks(s.links)
	s.links = nil
	return errors.Join(err, s.objs.Close())
}
