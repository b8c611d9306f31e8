package changelog

import (
	"context"
	"errors"
	"testing"
)

// collect watches from rev until it has n batches.
func collect(t *testing.T, l *Log[string], from int64, n int) ([]Batch[string], error) {
	t.Helper()
	var got []Batch[string]
	stop := errors.New("enough")
	err := l.Watch(context.Background(), from, func(b Batch[string]) error {
		got = append(got, b)
		if len(got) == n {
			return stop
		}
		return nil
	})
	if errors.Is(err, stop) {
		err = nil
	}
	return got, err
}

func TestReplayThenLive(t *testing.T) {
	l := New[string](10, 4)
	if r := l.Append("a"); r != 11 {
		t.Fatalf("first revision %d, want 11", r)
	}
	l.Append("b", "c")
	done := make(chan []Batch[string])
	go func() {
		got, err := collect(t, l, 10, 3)
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	l.Append("d")
	got := <-done
	want := []Batch[string]{{11, []string{"a"}}, {12, []string{"b", "c"}}, {13, []string{"d"}}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Revision != want[i].Revision || len(got[i].Changes) != len(want[i].Changes) || got[i].Changes[0] != want[i].Changes[0] {
			t.Fatalf("batch %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

func TestCompacted(t *testing.T) {
	l := New[string](0, 2)
	for _, c := range []string{"a", "b", "c"} {
		l.Append(c)
	}
	if _, err := collect(t, l, 0, 1); !errors.Is(err, ErrCompacted) {
		t.Fatalf("from 0 after 3 commits with capacity 2: %v, want ErrCompacted", err)
	}
	got, err := collect(t, l, 1, 2)
	if err != nil || got[0].Changes[0] != "b" || got[1].Changes[0] != "c" {
		t.Fatalf("from 1: %v, %v; want b, c", got, err)
	}
	if _, err := collect(t, l, -1, 1); !errors.Is(err, ErrCompacted) {
		t.Fatalf("from -1: %v, want ErrCompacted", err)
	}
}

func TestWatchEndsWithContext(t *testing.T) {
	l := New[string](0, 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Watch(ctx, 0, func(Batch[string]) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch with a cancelled context: %v", err)
	}
}
