package audit

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Recorder. Only Service is required.
type Options struct {
	Service string       // "token", "registry" or "provider"
	Log     Log          // where events are kept; nil keeps none (the slog line only)
	Logger  *slog.Logger // where the "audit" line goes; nil discards it
	Now     func() time.Time
	// Queue bounds the events waiting for the writer (default 1024); Batch, how many it appends at once
	// (default 256).
	Queue, Batch int
}

// Recorder records a service's audit events: the slog line at once, the log entry in the background.
// Record and Close are safe for concurrent use; a nil *Recorder records nothing.
type Recorder struct {
	service string
	log     Log
	logger  *slog.Logger
	now     func() time.Time
	batch   int
	ch      chan Event
	seq     atomic.Uint32
	dropped atomic.Uint64
	failed  atomic.Uint64

	closeOnce sync.Once
	mu        sync.RWMutex // held for reading by Record while it sends, for writing by Close
	closed    bool
	done      chan struct{}
}

// NewRecorder starts a Recorder (and its writer, when opts.Log is set). Close stops it.
func NewRecorder(opts Options) *Recorder {
	r := &Recorder{service: opts.Service, log: opts.Log, logger: opts.Logger, now: opts.Now, batch: opts.Batch,
		done: make(chan struct{})}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.batch < 1 {
		r.batch = 256
	}
	queue := opts.Queue
	if queue < 1 {
		queue = 1024
	}
	if r.log == nil {
		close(r.done)
		return r
	}
	r.ch = make(chan Event, queue)
	go r.write()
	return r
}

// Service is the service the recorder records for.
func (r *Recorder) Service() string { return r.service }

// Record writes e's slog line ("audit", level Warn for a failure or denial) and queues e for the log,
// without waiting: when the queue is full (or the recorder closed) the entry is dropped and counted. It
// sets e's service, and its ID and time when empty.
func (r *Recorder) Record(ctx context.Context, e Event) {
	if r == nil {
		return
	}
	e.Service = r.service
	if e.Time.IsZero() {
		e.Time = r.now()
	}
	e.Time = e.Time.UTC()
	if e.ID == "" {
		e.ID = newID(e.Time, r.seq.Add(1))
	}
	e = normalize(e)
	r.slog(ctx, e)
	e.Line = Line{}
	if r.ch == nil {
		return
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.dropped.Add(1)
		return
	}
	select {
	case r.ch <- e:
	default:
		r.dropped.Add(1)
	}
}

func (r *Recorder) slog(ctx context.Context, e Event) {
	level := slog.LevelInfo
	if e.Outcome != OutcomeSuccess && e.Outcome != "" {
		level = slog.LevelWarn
	}
	event, outcome := e.Event, e.Outcome
	if e.Line.Event != "" {
		event = e.Line.Event
	}
	if e.Line.Outcome != "" {
		outcome = e.Line.Outcome
	}
	attrs := []slog.Attr{slog.String("event", event), slog.String("outcome", outcome)}
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	add("tenant", e.TenantID)
	add("client_id", e.Actor.ClientID)
	add("user_id", e.Actor.UserID)
	add("acting_for", e.Actor.ActingFor)
	add("target_kind", e.Target.Kind)
	add("target_id", e.Target.ID)
	add("remote_addr", e.RemoteAddr)
	add("reason", e.Reason)
	attrs = append(attrs, e.Line.Attrs...)
	r.logger.LogAttrs(ctx, level, "audit", attrs...)
}

// write appends queued events in batches until Close.
func (r *Recorder) write() {
	defer close(r.done)
	buf := make([]Event, 0, r.batch)
	for e := range r.ch {
		buf = append(buf[:0], e)
	more:
		for len(buf) < r.batch {
			select {
			case e, ok := <-r.ch:
				if !ok {
					break more
				}
				buf = append(buf, e)
			default:
				break more
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := r.log.Append(ctx, buf, r.now()); err != nil {
			r.failed.Add(uint64(len(buf)))
			r.logger.Error("audit log: events not stored", "events", len(buf), "err", err)
		}
		cancel()
	}
}

// Close stops accepting events, stores those queued, and returns when the writer is done (or ctx ends).
func (r *Recorder) Close(ctx context.Context) error {
	if r == nil {
		return nil
	}
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closed = true
		if r.ch != nil {
			close(r.ch)
		}
		r.mu.Unlock()
	})
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Dropped is how many events found the queue full (or the recorder closed) and were not stored.
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// Failed is how many events the log refused to store (each failure is logged).
func (r *Recorder) Failed() uint64 { return r.failed.Load() }

// Collectors are the recorder's metrics: authsuite_audit_events_dropped_total and
// authsuite_audit_events_failed_total, labelled with the service.
func (r *Recorder) Collectors() []prometheus.Collector {
	labels := prometheus.Labels{"service": r.service}
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "authsuite_audit_events_dropped_total",
			Help: "Audit events not stored because the writer's queue was full.", ConstLabels: labels},
			func() float64 { return float64(r.Dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "authsuite_audit_events_failed_total",
			Help: "Audit events the audit log failed to store.", ConstLabels: labels},
			func() float64 { return float64(r.Failed()) }),
	}
}
