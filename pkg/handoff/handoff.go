// Package handoff is the contract between the profiling agent in the
// cluster and the CLI that waits for it: the agent keeps one ConfigMap up to
// date with its state and progress and finally the profile, and the CLI
// reads it. A ConfigMap (rather than the pod log) survives the pod, needs no
// log access, and can be watched; a profile is a few tens of KiB, far below
// the 1 MiB object limit.
package handoff

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshinsight/kubectl-meshinsight/pkg/configmap"
	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
	"github.com/meshinsight/kubectl-meshinsight/pkg/safetext"
)

// State of an agent run.
type State string

// The states an agent reports.
const (
	Running   State = "running"
	Succeeded State = "succeeded"
	Failed    State = "failed"
)

// Data keys of the ConfigMap.
const (
	KeyState   = "state"
	KeyDone    = "done"
	KeyTotal   = "total"
	KeyMessage = "message"
	KeyProfile = "profile.json"
)

// Status is what the agent reports.
type Status struct {
	State State
	// Done and Total count measurement cells.
	Done, Total int
	// Message is the latest progress line, or the error when Failed.
	Message string
	// Profile is set when Succeeded.
	Profile *profile.Profile
}

// Write creates or updates ConfigMap ns/name with s.
func Write(ctx context.Context, kc kubernetes.Interface, ns, name string, s Status) error {
	data := map[string]string{
		KeyState: string(s.State), KeyDone: strconv.Itoa(s.Done), KeyTotal: strconv.Itoa(s.Total), KeyMessage: s.Message,
	}
	if s.Profile != nil {
		b, err := profile.Marshal(s.Profile)
		if err != nil {
			return fmt.Errorf("encoding the profile: %w", err)
		}
		data[KeyProfile] = string(b)
	}
	if err := configmap.Upsert(ctx, kc, ns, name, data); err != nil {
		return fmt.Errorf("writing the hand-off ConfigMap %s/%s: %w", ns, name, err)
	}
	return nil
}

// MaxMessageRunes bounds the agent's message as Read returns it.
const MaxMessageRunes = 300

// maxCells bounds the cell counts Read returns: far more than any run
// measures.
const maxCells = 1_000_000

// Read decodes a hand-off ConfigMap; a Succeeded status without a valid
// profile is an error. Whoever can write the ConfigMap controls what it
// says, so nothing is taken on trust: the message comes back as one line
// safe to print (control characters escaped, at most MaxMessageRunes), the
// counts within 0 ≤ done ≤ total ≤ a million, and the profile validated
// (profile.Parse), numbers in range.
func Read(cm *corev1.ConfigMap) (Status, error) {
	s := Status{State: State(cm.Data[KeyState]), Message: safetext.Line(cm.Data[KeyMessage], MaxMessageRunes)}
	s.Total = cells(cm.Data[KeyTotal], maxCells)
	s.Done = cells(cm.Data[KeyDone], s.Total)
	switch s.State {
	case Running, Failed:
		return s, nil
	case Succeeded:
		raw, ok := cm.Data[KeyProfile]
		if !ok {
			return s, errors.New("the agent reported success without a profile")
		}
		p, err := profile.Parse([]byte(raw))
		if err != nil {
			return s, fmt.Errorf("the agent's profile is invalid: %w", err)
		}
		s.Profile = p
		return s, nil
	}
	return s, fmt.Errorf("unknown agent state %q", safetext.Line(string(s.State), 40))
}

// cells reads a count, 0 when absent or not a number, at most limit.
func cells(v string, limit int) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return min(n, limit)
}
