package spreadsheet

import "testing"

func TestSafeCell(t *testing.T) {
	for in, want := range map[string]string{"": "", "Ana": "Ana", "=1+1": "'=1+1", "+91 98": "'+91 98", "-2": "'-2",
		"@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx", "a=b": "a=b"} {
		if got := SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
}
