package probe

import "testing"

func TestTargetSlots(t *testing.T) {
	var ts targetSlots
	mustAdd := func(tgid, wantSlot int, wantNew bool) {
		t.Helper()
		slot, isNew, err := ts.add(tgid)
		if err != nil || slot != wantSlot || isNew != wantNew {
			t.Fatalf("add(%d) = %d, %v, %v; want %d, %v, nil", tgid, slot, isNew, err, wantSlot, wantNew)
		}
	}
	mustAdd(100, 0, true)
	mustAdd(200, 1, true)
	mustAdd(300, 2, true)
	mustAdd(200, 1, false)

	if got := ts.remove(200); got != 1 {
		t.Fatalf("remove(200) = %d, want 1", got)
	}
	if got := ts.remove(200); got != -1 {
		t.Fatalf("second remove(200) = %d, want -1", got)
	}
	// The tombstone keeps 300 reachable for a scan that stops at 0.
	if ts[1] != targetRemoved || ts[2] != 300 || ts[3] != 0 {
		t.Fatalf("slots after remove = %v", ts[:4])
	}
	mustAdd(400, 1, true) // reuses the tombstone
	mustAdd(500, 3, true)

	for _, bad := range []int{0, -1, targetRemoved} {
		if _, _, err := ts.add(bad); err == nil {
			t.Errorf("add(%d) succeeded", bad)
		}
	}
}

func TestTargetSlotsFull(t *testing.T) {
	var ts targetSlots
	for i := range MaxTargets {
		if _, _, err := ts.add(1000 + i); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := ts.add(5000); err == nil {
		t.Fatal("add beyond MaxTargets succeeded")
	}
	ts.remove(1010)
	slot, isNew, err := ts.add(5000)
	if err != nil || slot != 10 || !isNew {
		t.Fatalf("add after remove = %d, %v, %v; want 10, true, nil", slot, isNew, err)
	}
}
