package token

import (
	"errors"
	"strings"
)

// Listing SSO sessions (Store.ListSessions) for the admin API.
//
// Every backend keeps a session index ordered by (tenant, user id, SID), written in the transaction that
// writes or deletes the session, so a page of one tenant's (or one user's) sessions costs reads of that
// page only, never a scan of every session. A session without a SID, or whose tenant, user id or SID
// cannot be part of an index key (SessionListKey), is not listed.

// MaxSessionPage is the largest page ListSessions answers; DefaultSessionPage the page of a zero Limit.
const (
	MaxSessionPage     = 1000
	DefaultSessionPage = 100
)

// ErrBadCursor is returned by ListSessions for an After that no page of the query can have produced.
var ErrBadCursor = errors.New("token store: bad session list cursor")

// SessionQuery selects the sessions of a tenant, or of one of its users, one page at a time.
type SessionQuery struct {
	// TenantID is required.
	TenantID string
	// UserID, when set, keeps the sessions of that user only.
	UserID string
	// After resumes the listing after this position (SessionPage.Next of the previous page); empty for the
	// first page.
	After string
	// Limit is the page size: DefaultSessionPage when 0, at most MaxSessionPage.
	Limit int
}

// SessionPage is one page of ListSessions.
type SessionPage struct {
	// Sessions are ordered by user id, then SID. Expired sessions not swept yet are included (readers
	// check Expiry, as everywhere).
	Sessions []Session
	// Next is the position to resume from (SessionQuery.After), empty when the listing is complete.
	Next string
}

// SessionListKey is the index key of a session after its tenant: user id NUL SID. ok is false for a
// session that is not indexed: no SID, or a NUL in the tenant, user id or SID, or a key that ValidKey
// refuses.
func SessionListKey(tenantID, userID, sid string) (key string, ok bool) {
	if tenantID == "" || sid == "" || strings.ContainsRune(tenantID, 0) || strings.ContainsRune(userID, 0) ||
		strings.ContainsRune(sid, 0) {
		return "", false
	}
	key = userID + "\x00" + sid
	if ValidKey([]byte(tenantID+"\x00"+key)) != nil {
		return "", false
	}
	return key, true
}

// SessionListPrefix is the part of the keys (after the tenant) that q selects: "" for a whole tenant, the
// user id NUL for one user.
func SessionListPrefix(q SessionQuery) string {
	if q.UserID == "" {
		return ""
	}
	return q.UserID + "\x00"
}

// CheckSessionQuery validates q and returns its page size. After must lie within the query's prefix.
func CheckSessionQuery(q SessionQuery) (int, error) {
	if q.TenantID == "" || strings.ContainsRune(q.TenantID, 0) || strings.ContainsRune(q.UserID, 0) {
		return 0, errors.New("token store: a session query needs a tenant, and no NUL in tenant or user")
	}
	if q.Limit < 0 || q.Limit > MaxSessionPage {
		return 0, errors.New("token store: session page size out of range")
	}
	if q.After != "" && !strings.HasPrefix(q.After, SessionListPrefix(q)) {
		return 0, ErrBadCursor
	}
	if q.Limit == 0 {
		return DefaultSessionPage, nil
	}
	return q.Limit, nil
}
