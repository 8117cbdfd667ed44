package floatlist

import (
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestHelpAndParse(t *testing.T) {
	f := pflag.NewFlagSet("x", pflag.ContinueOnError)
	var rates, none []float64
	Var(f, &rates, "rates", []float64{500, 2000}, "request rates")
	Var(f, &none, "none", nil, "empty by default")
	help := f.FlagUsages()
	if !strings.Contains(help, "--rates numbers   request rates (default 500,2000)") {
		t.Errorf("help:\n%s", help)
	}
	if strings.Contains(help, "(default )") || strings.Contains(help, "[]") || strings.Contains(help, ".000000") {
		t.Errorf("help shows an empty or padded default:\n%s", help)
	}
	if err := f.Parse([]string{"--rates", "100,1.5", "--rates", "7"}); err != nil {
		t.Fatal(err)
	}
	if want := []float64{100, 1.5, 7}; !reflect.DeepEqual(rates, want) {
		t.Errorf("rates = %v, want %v", rates, want)
	}
	if err := f.Parse([]string{"--none", "x"}); err == nil {
		t.Error("--none x accepted")
	}
}
