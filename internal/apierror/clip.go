package apierror

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Clip makes caller input safe to quote in an error message or a log line: control characters and invalid
// UTF-8 become '?', and text longer than max bytes is cut on a character boundary and ends in "…".
func Clip(s string, max int) string {
	var b strings.Builder
	for i, r := range s {
		if i >= max {
			b.WriteString("…")
			break
		}
		if r == utf8.RuneError || unicode.IsControl(r) {
			r = '?'
		}
		if i+utf8.RuneLen(r) > max && r != '?' {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
