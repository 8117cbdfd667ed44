package handoff

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshinsight/kubectl-meshinsight/pkg/profile"
)

// The agent writes its status with Write; the CLI reads the same ConfigMap
// with Read. This is the contract between them.
func TestWriteThenRead(t *testing.T) {
	ctx := context.Background()
	kc := fake.NewSimpleClientset()
	read := func() (Status, error) {
		t.Helper()
		cm, err := kc.CoreV1().ConfigMaps("run").Get(ctx, "handoff", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return Read(cm)
	}
	if err := Write(ctx, kc, "run", "handoff", Status{State: Running, Done: 3, Total: 32, Message: "tcp mtls=on rate=500/s size=1024B"}); err != nil {
		t.Fatal(err)
	}
	s, err := read()
	if err != nil || s.State != Running || s.Done != 3 || s.Total != 32 || s.Message != "tcp mtls=on rate=500/s size=1024B" || s.Profile != nil {
		t.Fatalf("running: %+v, %v", s, err)
	}

	ref, err := profile.Reference()
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(ctx, kc, "run", "handoff", Status{State: Succeeded, Done: 32, Total: 32, Profile: ref}); err != nil {
		t.Fatal(err)
	}
	s, err = read()
	if err != nil || s.State != Succeeded || s.Profile == nil || s.Profile.Metadata.Name != ref.Metadata.Name || len(s.Profile.Models) != len(ref.Models) {
		t.Fatalf("succeeded: %+v, %v", s, err)
	}

	if err := Write(ctx, kc, "run", "handoff", Status{State: Failed, Message: "no envoy in pod x"}); err != nil {
		t.Fatal(err)
	}
	if s, err = read(); err != nil || s.State != Failed || s.Message != "no envoy in pod x" || s.Profile != nil {
		t.Fatalf("failed: %+v, %v", s, err)
	}
	cm, _ := kc.CoreV1().ConfigMaps("run").Get(ctx, "handoff", metav1.GetOptions{})
	if _, stale := cm.Data[KeyProfile]; stale {
		t.Error("a later status kept the earlier profile")
	}
}

func TestReadRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		data map[string]string
		want string
	}{
		"success without profile": {map[string]string{KeyState: string(Succeeded)}, "without a profile"},
		"invalid profile":         {map[string]string{KeyState: string(Succeeded), KeyProfile: `{"apiVersion":"x"}`}, "the agent's profile is invalid"},
		"unknown state":           {map[string]string{KeyState: "paused"}, `unknown agent state "paused"`},
		"empty":                   {nil, `unknown agent state ""`},
		// Issue #13 item 8: a profile a compromised agent skewed.
		"negative cost": {map[string]string{KeyState: string(Succeeded), KeyProfile: skewed(t)}, "intercept is -1000"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Read(&corev1.ConfigMap{Data: tc.data})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestWriteNamesTheConfigMapOnError(t *testing.T) {
	kc := fake.NewSimpleClientset()
	kc.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	err := Write(context.Background(), kc, "run", "handoff", Status{State: Running})
	if err == nil || err.Error() != "writing the hand-off ConfigMap run/handoff: connection refused" {
		t.Errorf("err = %v", err)
	}
}

// skewed is the reference profile with one negative cost.
func skewed(t *testing.T) string {
	t.Helper()
	p, err := profile.Reference()
	if err != nil {
		t.Fatal(err)
	}
	p.Models[0].CPUMicrosPerRequest.Intercept = -1000
	b, err := profile.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Issue #13 item 17: the agent's messages are printed on the user's
// terminal; whoever writes the ConfigMap must not control it.
func TestReadSanitisesTheAgentsWords(t *testing.T) {
	s, err := Read(&corev1.ConfigMap{Data: map[string]string{
		KeyState: string(Running), KeyDone: "99", KeyTotal: "12",
		KeyMessage: "cell 3\x1b]0;pwned\x07\x1b[2J" + strings.Repeat("x", 5000),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(s.Message, "\x1b\x07") || !strings.HasPrefix(s.Message, `cell 3\x1b]0;pwned\x07\x1b[2J`) {
		t.Errorf("message not escaped: %q", s.Message)
	}
	if n := len([]rune(s.Message)); n > MaxMessageRunes {
		t.Errorf("message of %d runes, want at most %d", n, MaxMessageRunes)
	}
	if s.Done != 12 || s.Total != 12 {
		t.Errorf("done %d of %d, want the count clamped to 12 of 12", s.Done, s.Total)
	}
	s, _ = Read(&corev1.ConfigMap{Data: map[string]string{KeyState: string(Running), KeyDone: "-5", KeyTotal: "1e99"}})
	if s.Done != 0 || s.Total != 0 {
		t.Errorf("done %d of %d from garbage", s.Done, s.Total)
	}
	_, err = Read(&corev1.ConfigMap{Data: map[string]string{KeyState: "\x1b[31mred"}})
	if err == nil || strings.Contains(err.Error(), "\x1b") {
		t.Errorf("state printed raw: %v", err)
	}
}
