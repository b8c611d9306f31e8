package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/audit"
)

// blockingLog holds every Append until release is closed, counting what it stored.
type blockingLog struct {
	*audit.MemoryLog
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (l *blockingLog) Append(ctx context.Context, evs []audit.Event, now time.Time) error {
	l.once.Do(func() { close(l.entered) })
	<-l.release
	return l.MemoryLog.Append(ctx, evs, now)
}

func TestRecorderStoresAndLogs(t *testing.T) {
	var buf bytes.Buffer
	log := audit.NewMemoryLog(0)
	rec := audit.NewRecorder(audit.Options{Service: "registry", Log: log, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	rec.Record(context.Background(), audit.Event{Event: "client_created", TenantID: "t1", Outcome: audit.OutcomeSuccess,
		Actor: audit.Actor{ClientID: "admin"}, Target: audit.Target{Kind: "client", ID: "web"}})
	rec.Record(context.Background(), audit.Event{Event: "sign_in_failed", Outcome: audit.OutcomeFailure, Reason: "bad_credentials",
		Line: audit.Line{Event: "login", Outcome: "bad_credentials", Attrs: []slog.Attr{slog.String("user_agent", "curl")}}})
	if err := rec.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	items, _, err := log.List(context.Background(), audit.Query{})
	if err != nil || len(items) != 2 {
		t.Fatalf("stored %v, %v", items, err)
	}
	if e := items[1]; e.Service != "registry" || e.Event != "client_created" || e.ID == "" || e.Time.IsZero() || e.Target.ID != "web" {
		t.Errorf("first event stored as %+v", e)
	}
	if items[0].ID <= items[1].ID {
		t.Errorf("IDs %q then %q do not increase", items[1].ID, items[0].ID)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("log lines:\n%s", buf.String())
	}
	var l2 map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &l2); err != nil {
		t.Fatal(err)
	}
	if l2["msg"] != "audit" || l2["event"] != "login" || l2["outcome"] != "bad_credentials" || l2["user_agent"] != "curl" || l2["level"] != "WARN" {
		t.Errorf("second line %v: want the line's own event and outcome, its attributes, at WARN", l2)
	}
}

// TestRecorderDropsWhenFull checks Record never waits for the log: with the writer stuck in a slow Append and
// the queue full, further events are dropped and counted, and the slog line is still written.
func TestRecorderDropsWhenFull(t *testing.T) {
	bl := &blockingLog{MemoryLog: audit.NewMemoryLog(0), entered: make(chan struct{}), release: make(chan struct{})}
	var buf bytes.Buffer
	rec := audit.NewRecorder(audit.Options{Service: "token", Log: bl, Queue: 4, Batch: 1, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	ctx := context.Background()
	rec.Record(ctx, audit.Event{Event: "sign_in"}) // taken by the writer, which then blocks
	<-bl.entered
	for range 10 {
		rec.Record(ctx, audit.Event{Event: "sign_in"})
	}
	if got := rec.Dropped(); got != 6 {
		t.Errorf("dropped %d, want 6 (10 recorded into a queue of 4)", got)
	}
	if n := strings.Count(buf.String(), "msg=audit"); n != 11 {
		t.Errorf("%d log lines, want 11", n)
	}
	close(bl.release)
	if err := rec.Close(ctx); err != nil {
		t.Fatal(err)
	}
	items, _, _ := bl.List(ctx, audit.Query{})
	if len(items) != 5 {
		t.Errorf("stored %d, want 5", len(items))
	}
	rec.Record(ctx, audit.Event{Event: "late"})
	if rec.Dropped() != 7 {
		t.Errorf("an event after Close was not counted as dropped")
	}
}

// TestRecorderBounded checks the log a recorder writes stays within its bound, trimmed as it is written.
func TestRecorderBounded(t *testing.T) {
	log := audit.NewMemoryLog(50)
	rec := audit.NewRecorder(audit.Options{Service: "provider", Log: log, Queue: 1000})
	for range 500 {
		rec.Record(context.Background(), audit.Event{Event: "connector_created"})
	}
	if err := rec.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	items, next, _ := log.List(context.Background(), audit.Query{Limit: 1000})
	if len(items) != 50 || next != "" {
		t.Errorf("%d events kept, want 50", len(items))
	}
}

func TestNilRecorder(t *testing.T) {
	var rec *audit.Recorder
	rec.Record(context.Background(), audit.Event{Event: "x"})
	if err := rec.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
