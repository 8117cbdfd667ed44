package examples

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestEveryExampleIsEmbedded(t *testing.T) {
	want := []string{"ambient-shop", "bookinfo", "online-boutique"}
	if got := Names(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, name := range want {
		data, err := Read(name)
		if err != nil {
			t.Fatal(err)
		}
		disk, err := os.ReadFile(name + ".yaml")
		if err != nil || string(disk) != string(data) {
			t.Errorf("%s: embedded copy differs from the file (%v)", name, err)
		}
		if Description(name) == "" {
			t.Errorf("%s: no description", name)
		}
	}
}

func TestUnknownExampleListsTheKnownOnes(t *testing.T) {
	for _, name := range []string{"bookinf", "../go.mod", ""} {
		_, err := Read(name)
		if err == nil || !strings.Contains(err.Error(), "bookinfo, online-boutique") {
			t.Errorf("Read(%q) = %v", name, err)
		}
	}
}
