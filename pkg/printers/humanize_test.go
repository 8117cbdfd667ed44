package printers

import "testing"

func TestHumanize(t *testing.T) {
	tests := []struct {
		name string
		f    func(float64) string
		in   float64
		want string
	}{
		{"micros zero", micros, 0, "0µs"},
		{"micros tiny", micros, 0.01, "0µs"},
		{"micros sub-10", micros, 0.44, "0.4µs"},
		{"micros whole", micros, 57, "57µs"},
		{"micros 999", micros, 999, "999µs"},
		{"micros rounds up to ms", micros, 999.7, "1.00ms"},
		{"micros ms", micros, 1500, "1.50ms"},
		{"micros ms 1.23", micros, 1234, "1.23ms"},
		{"micros tens of ms", micros, 48_000, "48.0ms"},
		{"micros hundreds of ms", micros, 312_400, "312ms"},
		{"micros s", micros, 2_500_000, "2.50s"},
		{"micros negative", micros, -1500, "-1.50ms"},

		{"signedMicros positive", signedMicros, 57, "+57µs"},
		{"signedMicros negative", signedMicros, -1200, "-1.20ms"},
		{"signedMicros noise is zero", signedMicros, 1e-9, "0µs"},

		{"millicores zero", millicores, 0, "0m"},
		{"millicores small", millicores, 0.04, "0.04m"},
		{"millicores one decimal", millicores, 40.08, "40.1m"},
		{"millicores whole", millicores, 1500, "1500m"},
		{"millicores negative", millicores, -2.26, "-2.3m"},

		{"signedMillicores positive", signedMillicores, 0.04, "+0.04m"},
		{"signedMillicores negative", signedMillicores, -36.34, "-36.3m"},
		{"signedMillicores zero", signedMillicores, 0, "0m"},

		{"cores", cores, 1500, "1.50"},
		{"cores small", cores, 40, "0.04"},

		{"bytes", byteSize, 512, "512"},
		{"bytes Ki", byteSize, 1536, "1.5Ki"},
		{"bytes 1Ki", byteSize, 1024, "1.0Ki"},
		{"bytes rounds up to Ki", byteSize, 1023.7, "1.0Ki"},
		{"bytes Mi", byteSize, 2_000_000, "1.9Mi"},
		{"bytes Gi", byteSize, 3 << 30, "3.0Gi"},

		{"mebibytes", mebibytes, 156, "156Mi"},
		{"mebibytes Gi", mebibytes, 1536, "1.5Gi"},
		{"mebibytes unknown", mebibytes, 0, "-"},

		{"rate fraction", rate, 0.25, "0.25"},
		{"rate one decimal", rate, 12.5, "12.5"},
		{"rate two decimals", rate, 33.3333, "33.33"},
		{"rate whole", rate, 250, "250"},
		{"rate k", rate, 1500, "1.5k"},
		{"rate k whole", rate, 12000, "12k"},
		{"rate k three figures", rate, 1012.5, "1.01k"},
		{"rate tens of k", rate, 12345, "12.3k"},
		{"rate M", rate, 2_500_000, "2.5M"},

		{"calls whole", calls, 3, "3"},
		{"calls expected", calls, 2.6666667, "2.67"},
		{"calls float noise", calls, 7.039999999999999, "7.04"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPercentChange(t *testing.T) {
	tests := []struct {
		base, variant float64
		want          string
	}{
		{100, 62, " (-38%)"},
		{100, 150, " (+50%)"},
		{0, 10, ""},
		{100, 100, ""},
		{1000, 1000.1, ""},
	}
	for _, tt := range tests {
		if got := percentChange(tt.base, tt.variant); got != tt.want {
			t.Errorf("percentChange(%v, %v) = %q, want %q", tt.base, tt.variant, got, tt.want)
		}
	}
}

func TestPercent(t *testing.T) {
	for share, want := range map[float64]string{0: "0%", 0.00004: "0%", 0.0074: "0.74%", 0.053: "5.3%", 0.29: "29%", 1.5: "150%"} {
		if got := percent(share); got != want {
			t.Errorf("percent(%v) = %q, want %q", share, got, want)
		}
	}
}
