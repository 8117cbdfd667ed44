package handoff

import (
	"strings"
	"testing"
	"unicode"

	corev1 "k8s.io/api/core/v1"
)

// FuzzRead: whatever the hand-off ConfigMap holds (the agent, or whoever
// can write it, controls it), Read returns a printable one-line message of
// bounded length, counts with 0 ≤ done ≤ total, and a profile only for a
// success, valid.
func FuzzRead(f *testing.F) {
	f.Add("running", "3", "32", "tcp mtls=on rate=500/s", "")
	f.Add("failed", "", "", "no envoy in pod \x1b[31mx", "")
	f.Add("succeeded", "1", "1", "", `{"apiVersion":"meshinsight.dev/v1alpha1"}`)
	f.Fuzz(func(t *testing.T, state, done, total, message, prof string) {
		data := map[string]string{KeyState: state, KeyDone: done, KeyTotal: total, KeyMessage: message}
		if prof != "" {
			data[KeyProfile] = prof
		}
		s, err := Read(&corev1.ConfigMap{Data: data})
		if strings.ContainsFunc(s.Message, unicode.IsControl) || len([]rune(s.Message)) > MaxMessageRunes {
			t.Errorf("message %q is not safe to print", s.Message)
		}
		if s.Done < 0 || s.Done > s.Total {
			t.Errorf("done %d of %d", s.Done, s.Total)
		}
		if err == nil && (s.Profile != nil) != (s.State == Succeeded) {
			t.Errorf("state %q with profile %v", s.State, s.Profile != nil)
		}
		if s.Profile != nil {
			if verr := s.Profile.Validate(); verr != nil {
				t.Errorf("an invalid profile was returned: %v", verr)
			}
		}
	})
}
