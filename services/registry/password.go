package registry

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/authsuite/authsuite/internal/apierror"
)

// Argon2id parameters: the OWASP Password Storage Cheat Sheet minimum (m=19 MiB, t=2, p=1).
const (
	argonMemory  = 19456 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// HashPassword hashes password with argon2id (RFC 9106) and a random 16-byte salt, returning the PHC string
// form "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" (unpadded standard base64).
func HashPassword(password string) string {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	sum := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum))
}

// VerifyPassword reports whether password matches encoded, a string made by HashPassword (parameters are read
// from it, within sane bounds, so they can be raised later). The comparison is constant-time; a malformed or
// empty encoded hash matches nothing.
func VerifyPassword(encoded, password string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var m, t uint32
	var p uint8
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); n != 3 || err != nil {
		return false
	}
	if m < 8 || m > 1<<21 || t < 1 || t > 16 || p < 1 || p > 16 || len(password) > MaxPasswordLen {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// Password hashing is bounded: every argon2id run holds a 19 MiB block and a core, and sign-in reaches it
// without authentication, so unbounded concurrency turns a burst of logins into gigabytes of memory
// (OWASP Password Storage Cheat Sheet: argon2id is memory-hard on purpose). At most GOMAXPROCS runs happen at
// once (one per core: more would only queue on the CPU and multiply memory), four times as many callers
// wait for a slot, and every further caller is shed at once with apierror.Overloaded (gRPC UNAVAILABLE,
// REST 503 with Retry-After).
var hashing = newGate(runtime.GOMAXPROCS(0), 4*runtime.GOMAXPROCS(0))

// HashCapacity is how many argon2id computations may run at once (slots) and how many more callers may wait
// for one (queue) before further callers are shed.
func HashCapacity() (slots, queue int) { return cap(hashing.slots), int(hashing.queue) }

// shedRetry is the Retry-After of a shed password check: about the time the queue takes to drain.
const shedRetry = time.Second

// errHashBusy is answered to a caller shed because every slot and queue place is taken.
var errHashBusy = apierror.Overloaded(shedRetry, "too many sign-ins at once; retry in a second")

// gate is a counting semaphore with a bounded waiting queue.
type gate struct {
	slots   chan struct{}
	waiting atomic.Int64
	queue   int64
}

func newGate(slots, queue int) *gate {
	return &gate{slots: make(chan struct{}, max(slots, 1)), queue: int64(max(queue, 0))}
}

// acquire takes a slot, waiting in the queue while there is room in it; it fails with errHashBusy when the
// queue is full and with ctx's error when ctx ends first. A nil error must be followed by release.
func (g *gate) acquire(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	if g.waiting.Add(1) > g.queue {
		g.waiting.Add(-1)
		return errHashBusy
	}
	defer g.waiting.Add(-1)
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) release() { <-g.slots }

// HashPasswordContext is HashPassword within the bound on concurrent hashing: it fails, without hashing, with
// an Overloaded error when too many computations run and wait, or with ctx's error.
func HashPasswordContext(ctx context.Context, password string) (string, error) {
	if err := hashing.acquire(ctx); err != nil {
		return "", err
	}
	defer hashing.release()
	return HashPassword(password), nil
}

// VerifyPasswordContext is VerifyPassword within the bound on concurrent hashing: it fails, without
// verifying, with an Overloaded error when too many computations run and wait, or with ctx's error.
func VerifyPasswordContext(ctx context.Context, encoded, password string) (bool, error) {
	if err := hashing.acquire(ctx); err != nil {
		return false, err
	}
	defer hashing.release()
	return VerifyPassword(encoded, password), nil
}
