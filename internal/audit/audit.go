// Package audit is the suite's audit trail: the admin actions and sign-ins of the token, registry and
// provider services, kept in a bounded log per service and listed by AuditService
// (proto/authsuite/ops/v1/audit.proto).
//
// A service records an event with Recorder.Record: it writes the "audit" slog line at once and hands the
// event to a background writer, which appends batches to the service's Log. Record never waits for storage:
// the hand-over is a bounded channel, and an event that finds it full is dropped and counted
// (Recorder.Dropped, the metric authsuite_audit_events_dropped_total) rather than slowing the request; the
// slog line is written either way. A Log keeps the newest MaxEvents events no older than MaxAge, trimming
// in the same write that appends.
//
// Admin actions are recorded by Interceptor, one gRPC layer for every service of a process: it knows the
// write methods of the admin APIs (actions, in interceptor.go), takes the target from the request and
// response, and the actor from the principal that bearer.Resolve noted in the call's context (NoteActor). A
// new audited method is one line of that table. Sign-ins, sign-in
// failures, sudo checks and logouts are recorded by the token service itself, which alone knows them. Key
// rotation is the SigningKeyService.RotateSigningKey call, recorded by the interceptor as keys_rotated; a
// rotation the schedule makes is no admin action and is not recorded. Code that records an event of its own
// calls Record on the Recorder its service was given.
//
// Events never hold a secret, token, password or cookie. A failed sign-in names the user only when the
// login named an existing account (user_id); what was typed is never recorded, since it may be a password.
package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"
)

// Bounds of every service's log.
const (
	MaxEvents = 10000
	MaxAge    = 30 * 24 * time.Hour
)

// Outcomes of an event.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
)

// Event is one audit record. ID and Time are set by Recorder.Record when empty.
type Event struct {
	// ID orders a service's events: 16 hex digits of the Unix time in nanoseconds, 8 of a per-process
	// counter and 6 naming the process, so later events of a process have greater IDs and IDs sort as text.
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	Service    string    `json:"service"`
	Event      string    `json:"event"`
	TenantID   string    `json:"tenant_id,omitempty"`
	Actor      Actor     `json:"actor"`
	Target     Target    `json:"target"`
	Outcome    string    `json:"outcome"`
	RemoteAddr string    `json:"remote_addr,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	// Line adjusts the event's slog line only (it is not stored).
	Line Line `json:"-"`
}

// Line adjusts the slog line of an event whose log form predates the audit log: another event name or
// outcome, and more attributes (which, like the event, never hold a secret).
type Line struct {
	Event, Outcome string
	Attrs          []slog.Attr
}

// Actor is who acted: the calling client, the signed-in user, and the tenant acted for when it is not the
// event's (a system administrator acting in another tenant).
type Actor struct {
	ClientID  string `json:"client_id,omitempty"`
	UserID    string `json:"user_id,omitempty"`
	ActingFor string `json:"acting_for,omitempty"`
}

// Target is the record an event concerns.
type Target struct {
	Kind string `json:"kind,omitempty"`
	ID   string `json:"id,omitempty"`
}

// Query selects a page of a log, newest first.
type Query struct {
	TenantID string // only events of this tenant ("" all)
	Event    string // only events of this kind ("" all)
	Before   string // only events with IDs below this one ("" from the newest)
	Limit    int    // at most this many (values < 1 mean 100, above 1000 mean 1000)
}

// EffectiveLimit is the page size a Log must use for q.
func (q Query) EffectiveLimit() int {
	switch {
	case q.Limit < 1:
		return 100
	case q.Limit > 1000:
		return 1000
	}
	return q.Limit
}

// Match reports whether e is selected by q's filters (not its position).
func (q Query) Match(e Event) bool {
	return (q.TenantID == "" || e.TenantID == q.TenantID) && (q.Event == "" || e.Event == q.Event)
}

// Log is a service's bounded audit log. Append stores events (each with a unique ID) and, in the same write,
// drops the oldest beyond MaxEvents and those older than MaxAge (by Time, against now). List answers the
// events q selects, newest (greatest ID) first, and the ID to pass as Before for the next page ("" on the
// last page). Both are safe for concurrent use; an Append either stores all its events or none.
type Log interface {
	Append(ctx context.Context, events []Event, now time.Time) error
	List(ctx context.Context, q Query) (items []Event, next string, err error)
}

// clip bounds a string field of an event (IDs and names are short; anything longer is cut).
func clip(s string) string {
	const maxField = 256
	if len(s) <= maxField {
		return s
	}
	return s[:maxField]
}

// normalize clips every field of e.
func normalize(e Event) Event {
	e.Service, e.Event, e.TenantID = clip(e.Service), clip(e.Event), clip(e.TenantID)
	e.Actor = Actor{ClientID: clip(e.Actor.ClientID), UserID: clip(e.Actor.UserID), ActingFor: clip(e.Actor.ActingFor)}
	e.Target = Target{Kind: clip(e.Target.Kind), ID: clip(e.Target.ID)}
	e.Outcome, e.RemoteAddr, e.Reason = clip(e.Outcome), clip(e.RemoteAddr), clip(e.Reason)
	return e
}

// newID is the ID of an event at t, the n-th of this process: the time and counter, then procTag, so that
// replicas appending to one shared log (etcd) never write the same ID.
func newID(t time.Time, n uint32) string {
	return fmt.Sprintf("%016x%08x%s", uint64(t.UnixNano()), n, procTag)
}

// procTag is 6 random hex digits drawn once per process.
var procTag = func() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b) // crypto/rand does not fail on supported platforms
	return hex.EncodeToString(b)
}()
