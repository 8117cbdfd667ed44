package printers

import (
	"fmt"
	"math"
	"strconv"
)

// micros renders a duration given in µs with about three significant figures:
// 0.4µs, 57µs, 1.23ms, 48.0ms, 2.50s.
func micros(us float64) string {
	sign, a := splitSign(us)
	switch {
	case a < 0.05:
		return "0µs"
	case a < 9.95:
		return fmt.Sprintf("%s%.1fµs", sign, a)
	case a < 999.5:
		return fmt.Sprintf("%s%.0fµs", sign, a)
	case a < 999_500:
		return sign + threeFigures(a/1e3) + "ms"
	default:
		return sign + threeFigures(a/1e6) + "s"
	}
}

// threeFigures formats v (at least 1) with three significant figures, or as a
// whole number from 1000 up: 1.23, 48.0, 312, 1500.
func threeFigures(v float64) string {
	switch {
	case v < 9.995:
		return fmt.Sprintf("%.2f", v)
	case v < 99.95:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// millicores renders CPU in millicores: 0.04m, 40.1m, 1500m.
func millicores(m float64) string { return stepped(m, "m", 0.005, 0.995, 99.95) }

// stepped renders v with unit and fewer decimals as it grows: zero below
// zeroBelow, two decimals below twoBelow, one below oneBelow, none above.
func stepped(v float64, unit string, zeroBelow, twoBelow, oneBelow float64) string {
	sign, a := splitSign(v)
	switch {
	case a < zeroBelow:
		return "0" + unit
	case a < twoBelow:
		return fmt.Sprintf("%s%.2f%s", sign, a, unit)
	case a < oneBelow:
		return fmt.Sprintf("%s%.1f%s", sign, a, unit)
	default:
		return fmt.Sprintf("%s%.0f%s", sign, a, unit)
	}
}

// cores renders millicores as cores with two decimals: 1500m is "1.50".
func cores(m float64) string {
	return fmt.Sprintf("%.2f", m/1e3)
}

// byteSize renders a size in bytes with binary prefixes: 512, 1.5Ki, 2.0Mi.
func byteSize(b float64) string {
	sign, a := splitSign(b)
	if a < 1023.5 {
		return fmt.Sprintf("%s%.0f", sign, a)
	}
	units := []string{"Ki", "Mi", "Gi", "Ti"}
	for i, u := range units {
		a /= 1024
		if a < 1023.95 || i == len(units)-1 {
			return fmt.Sprintf("%s%.1f%s", sign, a, u)
		}
	}
	return "" // unreachable: the last unit always returns
}

// mebibytes renders memory given in MiB: 156Mi, 1.5Gi; zero (unknown or
// per-node) is "-".
func mebibytes(m float64) string {
	sign, a := splitSign(m)
	switch {
	case a == 0:
		return "-"
	case a < 1023.5:
		return fmt.Sprintf("%s%.0fMi", sign, a)
	default:
		return fmt.Sprintf("%s%.1fGi", sign, a/1024)
	}
}

// rate renders a request rate with at most two decimals or three significant
// figures: 0.25, 12.5, 250, 1.01k, 12k, 2.5M.
func rate(r float64) string {
	sign, a := splitSign(r)
	switch {
	case a < 999.995:
		return sign + trimFloat(a, 2)
	case a < 999_500:
		return sign + trimFloat(a/1e3, 3-digitsBeforePoint(a/1e3)) + "k"
	default:
		return sign + trimFloat(a/1e6, max(3-digitsBeforePoint(a/1e6), 0)) + "M"
	}
}

// trimFloat rounds v to decimals places and drops trailing zeros.
func trimFloat(v float64, decimals int) string {
	p := math.Pow(10, float64(decimals))
	return strconv.FormatFloat(math.Round(v*p)/p, 'f', -1, 64)
}

// digitsBeforePoint counts the integer digits of v (at least 1).
func digitsBeforePoint(v float64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

// calls renders an expected number of calls: 3, 2.67.
func calls(c float64) string {
	return trimFloat(c, 2)
}

// signedMicros renders a latency difference with its sign: +57µs, -1.20ms, 0µs.
func signedMicros(d float64) string {
	if d >= 0.05 {
		return "+" + micros(d)
	}
	return micros(d)
}

// signedMillicores renders a CPU difference with its sign: +40.1m, -0.04m, 0m.
func signedMillicores(d float64) string {
	if d >= 0.005 {
		return "+" + millicores(d)
	}
	return millicores(d)
}

// percentChange renders the relative change from base to variant, " (-38%)", or
// nothing when base is zero or the values are equal.
func percentChange(base, variant float64) string {
	if base == 0 || base == variant {
		return ""
	}
	p := (variant - base) / math.Abs(base) * 100
	if math.Abs(p) < 0.5 {
		return ""
	}
	return fmt.Sprintf(" (%+.0f%%)", p)
}

// percent renders a share (0.05 = 5 %) with two significant figures below
// 10 %: 0.74%, 5.3%, 29%.
func percent(share float64) string { return stepped(100*share, "%", 0.005, 1, 10) }

// signedPercent renders a relative error with its sign, whole percent:
// +40%, -9%; "n/a" for NaN (no measured value to compare with).
func signedPercent(rel float64) string {
	if math.IsNaN(rel) {
		return "n/a"
	}
	return fmt.Sprintf("%+.0f%%", 100*rel)
}

// wholePercent renders a share in whole percent: 0.38 is "38%".
func wholePercent(share float64) string { return fmt.Sprintf("%.0f%%", 100*share) }

func splitSign(v float64) (string, float64) {
	if v < 0 {
		return "-", -v
	}
	return "", v
}
