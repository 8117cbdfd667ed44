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

// Read decodes a hand-off ConfigMap; a Succeeded status without a valid
// profile is an error.
func Read(cm *corev1.ConfigMap) (Status, error) {
	s := Status{State: State(cm.Data[KeyState]), Message: cm.Data[KeyMessage]}
	s.Done, _ = strconv.Atoi(cm.Data[KeyDone])
	s.Total, _ = strconv.Atoi(cm.Data[KeyTotal])
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
	return s, fmt.Errorf("unknown agent state %q", s.State)
}
