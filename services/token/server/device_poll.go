package server

import (
	"sync"
	"time"
)

// maxDevicePolls bounds the poll records kept in memory; past it, expired records are dropped, and if all
// are live the oldest half is forgotten (those devices may then poll once early without slow_down).
const maxDevicePolls = 100_000

// devicePolls remembers, per pending device code, when it last polled and its current interval (RFC 8628
// §3.5), in this replica's memory only: a poll costs no store write. In a cluster, polls that land on
// different replicas are each measured against that replica's record, so a device polling too fast may be
// answered authorization_pending rather than slow_down there. The zero value is ready to use.
type devicePolls struct {
	mu sync.Mutex
	m  map[string]devicePoll
}

type devicePoll struct {
	last, expiry time.Time
	interval     time.Duration
}

// poll records a poll of the device code key at now and reports whether it came too early: less than the
// current interval after the previous one. A poll too early grows the interval by 5 seconds (§3.5: "the
// interval MUST be increased by 5 seconds for this and all subsequent requests") and answers the new
// interval. expiry is the device code's, after which the record may be dropped.
func (p *devicePolls) poll(key string, now, expiry time.Time, base time.Duration) (tooEarly bool, interval time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]devicePoll{}
	}
	rec, seen := p.m[key]
	if !seen {
		if len(p.m) >= maxDevicePolls {
			p.prune(now)
		}
		p.m[key] = devicePoll{last: now, expiry: expiry, interval: base}
		return false, base
	}
	if now.Sub(rec.last) < rec.interval {
		rec.interval += 5 * time.Second
		tooEarly = true
	}
	rec.last = now
	p.m[key] = rec
	return tooEarly, rec.interval
}

// forget drops the record of key (the device code was redeemed, denied or expired).
func (p *devicePolls) forget(key string) {
	p.mu.Lock()
	delete(p.m, key)
	p.mu.Unlock()
}

// prune drops expired records, then, if the map is still full, the records polled longest ago. The caller
// holds mu.
func (p *devicePolls) prune(now time.Time) {
	for k, r := range p.m {
		if !now.Before(r.expiry) {
			delete(p.m, k)
		}
	}
	if len(p.m) < maxDevicePolls {
		return
	}
	cut := now
	for _, r := range p.m {
		if r.last.Before(cut) {
			cut = r.last
		}
	}
	// Forget everything polled in the older half of the span since the oldest poll.
	mid := cut.Add(now.Sub(cut) / 2)
	for k, r := range p.m {
		if !r.last.After(mid) {
			delete(p.m, k)
		}
	}
}
