// Package logtest is the conformance suite of audit.Log: every backend's log runs Run and must pass it
// unchanged.
package logtest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/audit"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// Run runs the cases against logs from open, which returns an empty log keeping at most max events.
func Run(t *testing.T, open func(t *testing.T, max int) audit.Log) {
	t.Run("NewestFirstPaged", func(t *testing.T) { testNewestFirst(t, open(t, 100)) })
	t.Run("Filters", func(t *testing.T) { testFilters(t, open(t, 100)) })
	t.Run("KeepsNewestMax", func(t *testing.T) { testBounded(t, open(t, 10)) })
	t.Run("DropsOlderThanMaxAge", func(t *testing.T) { testMaxAge(t, open(t, 100)) })
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open(t, 100)) })
}

// event is the i-th event (IDs in time order), of tenant "t<i%3>" and kind "e<i%2>".
func event(i int) audit.Event {
	at := t0.Add(time.Duration(i) * time.Second)
	return audit.Event{ID: fmt.Sprintf("%016x%08x", uint64(at.UnixNano()), i), Time: at, Service: "registry",
		Event: fmt.Sprintf("e%d", i%2), TenantID: fmt.Sprintf("t%d", i%3), Outcome: audit.OutcomeSuccess}
}

func appendN(t *testing.T, l audit.Log, from, to int) {
	t.Helper()
	var evs []audit.Event
	for i := from; i < to; i++ {
		evs = append(evs, event(i))
	}
	if err := l.Append(context.Background(), evs, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// all pages through l with q, returning the event indexes (their counters) in order.
func all(t *testing.T, l audit.Log, q audit.Query) []int {
	t.Helper()
	var out []int
	for range 1000 {
		items, next, err := l.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range items {
			var at uint64
			var i int
			if _, err := fmt.Sscanf(e.ID, "%016x%08x", &at, &i); err != nil {
				t.Fatalf("id %q: %v", e.ID, err)
			}
			out = append(out, i)
		}
		if next == "" {
			return out
		}
		if len(items) == 0 {
			t.Fatal("an empty page with a next token")
		}
		q.Before = next
	}
	t.Fatal("paging did not end")
	return nil
}

func desc(from, to int, keep func(int) bool) []int {
	var out []int
	for i := to - 1; i >= from; i-- {
		if keep == nil || keep(i) {
			out = append(out, i)
		}
	}
	return out
}

func testNewestFirst(t *testing.T, l audit.Log) {
	appendN(t, l, 0, 7)
	appendN(t, l, 7, 25)
	for _, size := range []int{1, 4, 25, 0} {
		if got, want := all(t, l, audit.Query{Limit: size}), desc(0, 25, nil); !slices.Equal(got, want) {
			t.Errorf("size %d: %v, want %v", size, got, want)
		}
	}
}

func testFilters(t *testing.T, l audit.Log) {
	appendN(t, l, 0, 30)
	cases := []struct {
		q    audit.Query
		keep func(int) bool
	}{
		{audit.Query{TenantID: "t1", Limit: 3}, func(i int) bool { return i%3 == 1 }},
		{audit.Query{Event: "e0", Limit: 4}, func(i int) bool { return i%2 == 0 }},
		{audit.Query{TenantID: "t2", Event: "e1", Limit: 2}, func(i int) bool { return i%3 == 2 && i%2 == 1 }},
		{audit.Query{TenantID: "nobody"}, func(int) bool { return false }},
	}
	for _, tc := range cases {
		if got, want := all(t, l, tc.q), desc(0, 30, tc.keep); !slices.Equal(got, want) {
			t.Errorf("%+v: %v, want %v", tc.q, got, want)
		}
	}
}

func testBounded(t *testing.T, l audit.Log) {
	appendN(t, l, 0, 8)
	appendN(t, l, 8, 15)
	for i := 15; i < 18; i++ {
		appendN(t, l, i, i+1)
	}
	if got, want := all(t, l, audit.Query{Limit: 100}), desc(8, 18, nil); !slices.Equal(got, want) {
		t.Errorf("kept %v, want the newest 10 %v", got, want)
	}
}

func testMaxAge(t *testing.T, l audit.Log) {
	ctx := context.Background()
	old := event(1)
	old.Time = t0.Add(-audit.MaxAge - time.Hour)
	old.ID = fmt.Sprintf("%016x%08x", uint64(old.Time.UnixNano()), 1)
	if err := l.Append(ctx, []audit.Event{old}, t0.Add(-audit.MaxAge)); err != nil {
		t.Fatal(err)
	}
	if got := all(t, l, audit.Query{}); !slices.Equal(got, []int{1}) {
		t.Fatalf("before it expires: %v", got)
	}
	if err := l.Append(ctx, []audit.Event{event(2)}, t0); err != nil {
		t.Fatal(err)
	}
	if got := all(t, l, audit.Query{}); !slices.Equal(got, []int{2}) {
		t.Errorf("after a write %v past its age: %v, want only the new event", audit.MaxAge, got)
	}
}

func testRoundTrip(t *testing.T, l audit.Log) {
	e := event(3)
	e.Actor = audit.Actor{ClientID: "c", UserID: "u", ActingFor: "default"}
	e.Target = audit.Target{Kind: "client", ID: "web"}
	e.Outcome, e.RemoteAddr, e.Reason = audit.OutcomeFailure, "192.0.2.1", "InvalidArgument"
	if err := l.Append(context.Background(), []audit.Event{e}, t0); err != nil {
		t.Fatal(err)
	}
	items, _, err := l.List(context.Background(), audit.Query{})
	if err != nil || len(items) != 1 {
		t.Fatalf("List: %v, %v", items, err)
	}
	got := items[0]
	if !got.Time.Equal(e.Time) {
		t.Errorf("time %v, want %v", got.Time, e.Time)
	}
	got.Time = e.Time
	if !reflect.DeepEqual(got, e) {
		t.Errorf("stored %+v, listed %+v", e, got)
	}
}
