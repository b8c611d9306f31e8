package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"unicode/utf8"

	"github.com/authsuite/authsuite/internal/apierror"
)

// MaxFilterLen bounds a listing's filter, in bytes.
const MaxFilterLen = 200

// ClientMatches reports whether c's ID or name contains filter, compared without regard to case (Unicode
// simple lower case of both sides). The empty filter matches every client.
func ClientMatches(c Client, filter string) bool {
	if filter == "" {
		return true
	}
	f := strings.ToLower(filter)
	return containsLower(c.ID, f) || containsLower(c.Name, f)
}

// UserMatches reports whether u's ID, login name, email or display name contains filter, compared without
// regard to case. The empty filter matches every user.
func UserMatches(u User, filter string) bool {
	if filter == "" {
		return true
	}
	f := strings.ToLower(filter)
	return containsLower(u.ID, f) || containsLower(u.LoginName, f) || containsLower(u.Email, f) ||
		containsLower(u.DisplayName, f)
}

func containsLower(s, lowerFilter string) bool {
	return strings.Contains(strings.ToLower(s), lowerFilter)
}

// RawMayMatch is a quick test a backend may run on a record's stored JSON before decoding it: false only when
// no string in raw can contain filter (compared as ClientMatches and UserMatches compare), so the record
// cannot match. NewRawMatcher does the same with less work per record.
func RawMayMatch(raw []byte, filter string) bool {
	return NewRawMatcher(filter).MayMatch(raw)
}

// RawMatcher is RawMayMatch for one filter over many records. Not safe for concurrent use.
type RawMatcher struct {
	lower []byte // the filter in lower case; nil when every record may match
	buf   []byte
}

// NewRawMatcher prepares RawMayMatch for filter. A filter holding a character encoding/json may escape
// (quotes, backslash, <, >, &, control characters, U+2028, U+2029, invalid UTF-8), whose stored form differs
// from its text, lets every record through.
func NewRawMatcher(filter string) *RawMatcher {
	for _, r := range filter {
		if r < 0x20 || r == '"' || r == '\\' || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029' ||
			r == utf8.RuneError {
			return &RawMatcher{}
		}
	}
	if filter == "" {
		return &RawMatcher{}
	}
	return &RawMatcher{lower: []byte(strings.ToLower(filter))}
}

// MayMatch reports whether raw may hold a string containing the filter (false means it cannot).
func (m *RawMatcher) MayMatch(raw []byte) bool {
	if m.lower == nil {
		return true
	}
	// Lower-case ASCII in place of a copy; non-ASCII text may lower-case into ASCII (the Kelvin sign into
	// "k"), so it takes the Unicode path.
	m.buf = m.buf[:0]
	for _, b := range raw {
		if b >= utf8.RuneSelf {
			return bytes.Contains(bytes.ToLower(raw), m.lower)
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		m.buf = append(m.buf, b)
	}
	return bytes.Contains(m.buf, m.lower)
}

// ListPageOptions turns a list request's page_size, page_token and filter into ListOptions, as PageOptions
// does, and checks the filter (at most MaxFilterLen bytes of valid UTF-8; errors name "filter"). A page token
// carries a digest of the filter it was issued for (EncodeListPageToken): a token presented with another
// filter is refused (naming "pageToken"), since its position means nothing in another selection.
func ListPageOptions(size int32, token, filter string) (ListOptions, error) {
	if len(filter) > MaxFilterLen {
		return ListOptions{}, apierror.Invalid("filter", "must be at most %d bytes", MaxFilterLen)
	}
	if !utf8.ValidString(filter) {
		return ListOptions{}, apierror.Invalid("filter", "must be valid UTF-8")
	}
	if filter == "" || token == "" {
		opts, err := PageOptions(size, token)
		opts.Filter = filter
		return opts, err
	}
	if size < 0 {
		return ListOptions{}, apierror.Invalid("pageSize", "must not be negative")
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	tag := filterTag(filter)
	if err != nil || len(b) <= len(tag) || string(b[:len(tag)]) != tag {
		return ListOptions{}, apierror.Invalid("pageToken", "not a page token from this listing with this filter")
	}
	return ListOptions{Limit: int(size), After: string(b[len(tag):]), Filter: filter}, nil
}

// EncodeListPageToken turns a store's next key into the page token of a listing with filter: the
// EncodePageToken form without a filter, otherwise one bound to the filter ("" stays "").
func EncodeListPageToken(next, filter string) string {
	if filter == "" || next == "" {
		return EncodePageToken(next)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(filterTag(filter) + next))
}

// filterTag is the prefix of a filtered page token: "f1:", 12 base64url characters of the filter's SHA-256,
// and ":".
func filterTag(filter string) string {
	sum := sha256.Sum256([]byte(filter))
	return "f1:" + base64.RawURLEncoding.EncodeToString(sum[:9]) + ":"
}
