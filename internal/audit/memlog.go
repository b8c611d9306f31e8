package audit

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryLog is the Log of the memory backend: events in a slice ordered by ID.
type MemoryLog struct {
	mu     sync.Mutex
	events []Event // ascending ID
	max    int
}

// NewMemoryLog returns an empty log keeping at most max events (MaxEvents when max < 1).
func NewMemoryLog(max int) *MemoryLog {
	if max < 1 {
		max = MaxEvents
	}
	return &MemoryLog{max: max}
}

// Append implements Log.
func (l *MemoryLog) Append(_ context.Context, events []Event, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range events {
		i, found := slices.BinarySearchFunc(l.events, e.ID, func(x Event, id string) int { return compare(x.ID, id) })
		if found {
			l.events[i] = e
			continue
		}
		l.events = slices.Insert(l.events, i, e)
	}
	cut := max(0, len(l.events)-l.max)
	for cut < len(l.events) && l.events[cut].Time.Before(now.Add(-MaxAge)) {
		cut++
	}
	l.events = slices.Delete(l.events, 0, cut)
	return nil
}

// List implements Log.
func (l *MemoryLog) List(_ context.Context, q Query) ([]Event, string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	limit := q.EffectiveLimit()
	var items []Event
	for i := len(l.events) - 1; i >= 0; i-- {
		e := l.events[i]
		if q.Before != "" && e.ID >= q.Before || !q.Match(e) {
			continue
		}
		if len(items) == limit {
			return items, items[limit-1].ID, nil
		}
		items = append(items, e)
	}
	return items, "", nil
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
