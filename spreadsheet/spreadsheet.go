// Package spreadsheet keeps the CSV files Dripcast hands out safe to open in a spreadsheet.
package spreadsheet

import "strings"

// SafeCell keeps a spreadsheet from running a cell as a formula: a value starting with = + - @
// or a tab or carriage return gets a leading apostrophe (OWASP's CSV injection advice).
func SafeCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
