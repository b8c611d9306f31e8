package mail

import (
	"context"
	"log/slog"
	"sync"
)

// Defaults of an Outbox.
const (
	// DefaultQueue is how many jobs may wait or run at once.
	DefaultQueue = 1000
	// DefaultConcurrency is how many jobs run at once (each holds at most one SMTP connection).
	DefaultConcurrency = 4
)

// Outbox runs mail jobs in the background, after the request that made them has been answered, so a
// request's timing does not depend on the mail (or on whether there was one to send). It bounds both the
// jobs in flight (Queue: a job beyond it is dropped and logged) and the jobs running at once (Concurrency:
// the SMTP connections open), so a flood of requests cannot open unbounded connections or goroutines.
type Outbox struct {
	log     *slog.Logger
	ctx     context.Context // the jobs' context, cancelled by Close
	cancel  context.CancelFunc
	pending chan struct{} // one token per job queued or running
	running chan struct{} // one token per job running
	wg      sync.WaitGroup
}

// OutboxOptions configure an Outbox; zero values take the defaults.
type OutboxOptions struct {
	Queue       int
	Concurrency int
	// Log receives the drops and the jobs' panics (never a message's content).
	Log *slog.Logger
}

// NewOutbox returns an empty Outbox.
func NewOutbox(o OutboxOptions) *Outbox {
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Outbox{log: o.Log, ctx: ctx, cancel: cancel, pending: make(chan struct{}, o.Queue), running: make(chan struct{}, o.Concurrency)}
}

// Go queues job and returns at once: true when it will run, false when the queue was full and the job was
// dropped (and logged under kind), also after Close. The job's context is cancelled by Close only; the job
// must bound its own work (Send does: Timeout).
func (o *Outbox) Go(kind string, job func(ctx context.Context)) bool {
	if o.ctx.Err() != nil {
		return false
	}
	select {
	case o.pending <- struct{}{}:
	default:
		o.log.Warn("mail queue full: a mail was dropped", "kind", kind, "queue", cap(o.pending))
		return false
	}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		defer func() { <-o.pending }()
		select {
		case o.running <- struct{}{}:
		case <-o.ctx.Done():
			return
		}
		defer func() { <-o.running }()
		if o.ctx.Err() != nil {
			return // closed while it waited
		}
		defer func() {
			if r := recover(); r != nil {
				o.log.Error("mail job panicked", "kind", kind, "panic", r)
			}
		}()
		job(o.ctx)
	}()
	return true
}

// Wait returns when every job queued so far has ended.
func (o *Outbox) Wait() { o.wg.Wait() }

// Close cancels the jobs waiting or running (a delivery in progress is abandoned) and waits for them to
// end; later jobs are dropped. The service calls it on shutdown, before its store is closed.
func (o *Outbox) Close() {
	o.cancel()
	o.wg.Wait()
}
