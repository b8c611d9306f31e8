// Package memstore is an in-memory implementation of the token service's store, for tests and for running
// without a disk. It answers every method as the bbolt store (services/token/bboltstore) does and
// passes the same conformance suite (services/token/storetest).
//
// A memory store keeps its data only in the process: everything in it is lost when the process ends. "Made
// durable" in the token.Store contract means, here, visible to every later call on a handle over the same
// data (Reopen).
//
// Concurrency: every method is safe for concurrent use. One mutex guards all the data, so each method is
// atomic and linearizable: a reader sees either all or none of a write, and the update functions of
// UpdateKeys, UpdateSession, ConsumeCode, RotateRefreshTokenGrace and UpdateLoginFailureSet run exactly once,
// holding that mutex, with the current records; they must not call the store (that would deadlock, as it
// would inside a bbolt transaction). An update that fails leaves everything as it was.
package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/token"
)

// maxKeySize is the longest signing key id and jti the bbolt store can keep (bbolt's MaxKeySize); the memory
// store refuses longer ones alike.
const maxKeySize = 32768

// Store is a token.Store in memory. The zero value is not usable; call New.
type Store struct {
	d      *data
	closed atomic.Bool
	done   chan struct{} // closed by Close: ends this handle's running watches
	once   sync.Once
}

var _ token.Store = (*Store)(nil)

// data is what the handles over one memory store share.
type data struct {
	mu sync.RWMutex

	keys        map[string]*keyRec
	revocations map[string]time.Time // jti → expiry (whole seconds)
	snapshot    []byte
	hasSnapshot bool

	interactions map[string]*interactionRec     // keyed by the SHA-256 of the interaction id
	sessions     map[string]*sessionRec         // keyed by the SHA-256 of the session cookie
	sids         map[string]sidEntry            // SID → session key
	sessionList  map[string]map[string]sidEntry // tenant → token.SessionListKey → session key (sessionlist.go)
	codes        map[string]*codeRec
	refresh      map[string]*refreshRec
	consents     map[string]*consentRec // keyed by consentKey
	failures     map[string]*failuresRec
	assertions   map[string]time.Time // token.AssertionKey → expiry (whole seconds)
	device       *deviceData          // device authorizations (device.go), nil until the first

	// log gets the commits Watch reports, appended under mu so that revisions follow commit order.
	log *changelog.Log[token.Change]
}

// historyCommits is how many recent commits Watch can replay.
const historyCommits = 4096

// New returns an empty memory store.
func New() *Store {
	return &Store{done: make(chan struct{}), d: &data{
		keys:         map[string]*keyRec{},
		revocations:  map[string]time.Time{},
		interactions: map[string]*interactionRec{},
		sessions:     map[string]*sessionRec{},
		sids:         map[string]sidEntry{},
		sessionList:  map[string]map[string]sidEntry{},
		codes:        map[string]*codeRec{},
		refresh:      map[string]*refreshRec{},
		consents:     map[string]*consentRec{},
		failures:     map[string]*failuresRec{},
		assertions:   map[string]time.Time{},
		log:          changelog.New[token.Change](0, historyCommits),
	}}
}

// Reopen returns a new, open handle over the data of s, whether s is open or closed: what a restart would
// show if memory survived it. Closing one handle does not close the other.
func (s *Store) Reopen() *Store { return &Store{d: s.d, done: make(chan struct{})} }

// Close closes this handle: its methods return token.ErrClosed afterwards. The data stays for other handles
// (Reopen). Closing twice is harmless.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.once.Do(func() { close(s.done) })
	return nil
}

func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return token.ErrClosed
	}
	return ctx.Err()
}

// read runs fn holding the read lock, after checking the handle and ctx.
func (s *Store) read(ctx context.Context, fn func(d *data) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.d.mu.RLock()
	defer s.d.mu.RUnlock()
	return fn(s.d)
}

// write runs fn holding the write lock, after checking the handle and ctx. fn changes nothing unless it
// returns nil.
func (s *Store) write(ctx context.Context, fn func(d *data) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return fn(s.d)
}

func (d *data) sortedKeys() []token.SigningKey {
	ids := make([]string, 0, len(d.keys))
	for id := range d.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids) // the bbolt store's order among keys created at the same time
	keys := make([]token.SigningKey, 0, len(ids))
	for _, id := range ids {
		keys = append(keys, d.keys[id].domain())
	}
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].CreateTime.Before(keys[j].CreateTime) })
	if len(keys) == 0 {
		return nil
	}
	return keys
}

// Keys implements token.Store.
func (s *Store) Keys(ctx context.Context) ([]token.SigningKey, error) {
	var keys []token.SigningKey
	err := s.read(ctx, func(d *data) error {
		keys = d.sortedKeys()
		return nil
	})
	return keys, err
}

// UpdateKeys implements token.Store. update runs once.
func (s *Store) UpdateKeys(ctx context.Context, update func([]token.SigningKey) ([]token.SigningKey, error)) error {
	return s.write(ctx, func(d *data) error {
		next, err := update(d.sortedKeys())
		if err != nil {
			return err
		}
		recs := make(map[string]*keyRec, len(next))
		for _, k := range next {
			if k.ID == "" || recs[k.ID] != nil {
				return fmt.Errorf("signing keys: empty or duplicate id %q", k.ID)
			}
			if len(k.ID) > maxKeySize {
				return errors.New("signing keys: id too long")
			}
			recs[k.ID] = keyToRec(k)
		}
		d.keys = recs
		d.log.Append(token.Change{KeysChanged: true})
		return nil
	})
}

// Revoke implements token.Store.
func (s *Store) Revoke(ctx context.Context, r token.Revocation) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if r.JTI == "" {
		return errors.New("revoke: empty jti")
	}
	if len(r.JTI) > maxKeySize {
		return errors.New("revoke: jti too long")
	}
	rev := token.Revocation{JTI: r.JTI, Expiry: expiry(r.Expiry)}
	return s.write(ctx, func(d *data) error {
		d.revocations[r.JTI] = rev.Expiry
		d.log.Append(token.Change{Revocation: &rev})
		return nil
	})
}

// Revision implements token.Store.
func (s *Store) Revision() int64 { return s.d.log.Revision() }

// Watch implements token.Store. The history it replays is the last historyCommits commits; a watcher asking
// for older ones gets changelog.ErrCompacted.
func (s *Store) Watch(ctx context.Context, from int64, fn func(changelog.Batch[token.Change]) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := s.d.log.Watch(ctx, from, fn)
	if s.closed.Load() && errors.Is(err, context.Canceled) {
		return token.ErrClosed
	}
	return err
}

// Revocations implements token.Store.
func (s *Store) Revocations(ctx context.Context) ([]token.Revocation, error) {
	var out []token.Revocation
	err := s.read(ctx, func(d *data) error {
		for jti, exp := range d.revocations {
			out = append(out, token.Revocation{JTI: jti, Expiry: exp})
		}
		return nil
	})
	return out, err
}

// SweepRevocations implements token.Store.
func (s *Store) SweepRevocations(ctx context.Context, t time.Time) (int, error) {
	n := 0
	err := s.write(ctx, func(d *data) error {
		for jti, exp := range d.revocations {
			if exp.Before(t) {
				delete(d.revocations, jti)
				n++
			}
		}
		return nil
	})
	return n, err
}

// PutClientSnapshot implements token.Store.
func (s *Store) PutClientSnapshot(ctx context.Context, snap []byte) error {
	v := bytes.Clone(snap)
	if v == nil {
		v = []byte{}
	}
	return s.write(ctx, func(d *data) error {
		d.snapshot, d.hasSnapshot = v, true
		return nil
	})
}

// ClientSnapshot implements token.Store.
func (s *Store) ClientSnapshot(ctx context.Context) ([]byte, error) {
	var out []byte
	err := s.read(ctx, func(d *data) error {
		if d.hasSnapshot {
			out = bytes.Clone(d.snapshot)
		}
		return nil
	})
	return out, err
}

// consentKey is the bbolt store's key of a consent: its three ids joined by NUL.
func consentKey(tenantID, userID, clientID string) string {
	return strings.Join([]string{tenantID, userID, clientID}, "\x00")
}
