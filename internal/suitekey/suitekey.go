// Package suitekey holds the suite's master keys: the secret every authsuite service shares, from which it
// derives the keys that encrypt records at rest (AES-256-GCM), the keyed hashes of client secrets
// (HMAC-SHA-256) and the credential services present to each other.
//
// A Keyring has one primary key, used for everything new, and any number of older keys that still open and
// verify what they made; every sealed record and digest names its key by id, so keys can rotate.
//
// Key check. A key's id is the first 4 bytes of SHA-256 of the key: a key check value. Each data file keeps a
// Record of the ids its data is sealed under; a service checks it (Keyring.Check) before it writes anything,
// so a lost or wrong key is a start-up error naming the id the data needs, never a silently new key.
//
// Rotation (`authsuite rekey`, internal/rekey). Sealed values are opened and sealed again under the new key.
// Client secrets are kept only as keyed digests, which cannot be recomputed without the secrets, so for
// digests the design is an envelope: when a key is dropped, its digest subkeys (RetainedPurposes, and only
// those) are kept, sealed under the new key, in each file's Record. The alternative, keeping the old master
// key until the last digest under it is gone, would keep a key that opens old data and derives the internal
// credential; a retained digest subkey can only recognise secrets that already exist. Rekeying again reseals
// the retained subkeys too, so any number of rotations leaves exactly one master key in use.
package suitekey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// KeySize is the size of a master key in bytes.
const KeySize = 32

// ErrOpen is returned when a sealed record cannot be opened: unknown key id, tampering, or truncation.
var ErrOpen = errors.New("suitekey: cannot open sealed data")

type key struct {
	id     string
	master []byte      // nil for a retained key (see Record): it has digest subkeys only
	aead   cipher.AEAD // nil for a retained key

	// subkeys caches the HKDF subkey of each purpose (purpose → []byte). Purposes are few and fixed, so
	// after the first use of each every lookup is a lock-free read.
	subkeys sync.Map
}

// Keyring is safe for concurrent use.
type Keyring struct {
	primary *key
	byID    map[string]*key // master keys and retained keys
	order   []*key          // the master keys, as given
}

// Parse reads a key list: comma-separated keys, each 32 bytes in standard or URL-safe base64 (padded or
// not) or in hex. The first key is primary.
func Parse(spec string) (*Keyring, error) {
	var keys [][]byte
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		raw, err := decodeKey(part)
		if err != nil {
			return nil, fmt.Errorf("master key %d: %w", i+1, err)
		}
		keys = append(keys, raw)
	}
	if len(keys) == 0 {
		return nil, errors.New("master key: none given")
	}
	return New(keys...)
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) == KeySize {
		return b, nil
	}
	return nil, fmt.Errorf("want %d bytes in base64 or hex", KeySize)
}

// New builds a keyring from raw 32-byte keys; the first is primary.
func New(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("master key: none given")
	}
	kr := &Keyring{byID: make(map[string]*key, len(keys))}
	for _, raw := range keys {
		if len(raw) != KeySize {
			return nil, fmt.Errorf("master key: want %d bytes, got %d", KeySize, len(raw))
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(raw)
		k := &key{id: hex.EncodeToString(sum[:4]), master: append([]byte(nil), raw...), aead: aead}
		if kr.primary == nil {
			kr.primary = k
		}
		kr.byID[k.id] = k
		kr.order = append(kr.order, k)
	}
	return kr, nil
}

// Generate returns a new random key in the text form Parse reads.
func Generate() string {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.StdEncoding.EncodeToString(b)
}

// LoadOrCreateFile reads a key file (the Parse format, one line), creating it with a new key and mode 0600
// when it does not exist.
func LoadOrCreateFile(path string) (*Keyring, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		spec := Generate()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create master key file: %w", err)
		}
		if _, err := f.WriteString(spec + "\n"); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		return Parse(spec)
	}
	return LoadFile(path)
}

// LoadFile reads a key file (the Parse format); unlike LoadOrCreateFile it never creates one.
func LoadFile(path string) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read master key file: %w", err)
	}
	kr, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return kr, nil
}

// PrimaryID is the id of the primary key.
func (kr *Keyring) PrimaryID() string { return kr.primary.id }

// Seal encrypts plaintext with the primary key (AES-256-GCM). additionalData, which may be nil, binds the
// ciphertext to its context (e.g. a record's key) and must be passed to Open unchanged.
// Format: 1 byte version (1) | 1 byte id length | key id | 12-byte nonce | ciphertext+tag.
func (kr *Keyring) Seal(plaintext, additionalData []byte) []byte {
	k := kr.primary
	nonceSize := k.aead.NonceSize()
	out := make([]byte, 0, 2+len(k.id)+nonceSize+len(plaintext)+k.aead.Overhead())
	out = append(out, 1, byte(len(k.id)))
	out = append(out, k.id...)
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, plaintext, additionalData)
}

// Open decrypts what Seal produced under any key of the ring.
func (kr *Keyring) Open(sealed, additionalData []byte) ([]byte, error) {
	if len(sealed) < 2 || sealed[0] != 1 {
		return nil, ErrOpen
	}
	idLen := int(sealed[1])
	if len(sealed) < 2+idLen {
		return nil, ErrOpen
	}
	k, ok := kr.byID[string(sealed[2:2+idLen])]
	if !ok || k.aead == nil {
		return nil, ErrOpen
	}
	rest := sealed[2+idLen:]
	ns := k.aead.NonceSize()
	if len(rest) < ns+k.aead.Overhead() {
		return nil, ErrOpen
	}
	pt, err := k.aead.Open(nil, rest[:ns], rest[ns:], additionalData)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// subkey derives the HKDF-SHA-256 key of a purpose under k, once per purpose; lookups take no lock. A
// retained key answers only the purposes it kept, nil for the others.
func (k *key) subkey(purpose string) []byte {
	if sk, ok := k.subkeys.Load(purpose); ok {
		return sk.([]byte)
	}
	if k.master == nil {
		return nil
	}
	sk, err := hkdf.Key(sha256.New, k.master, nil, "authsuite "+purpose, 32)
	if err != nil {
		panic(err) // only fails for impossible lengths
	}
	// Concurrent first uses derive the same value; whichever is stored first is kept.
	v, _ := k.subkeys.LoadOrStore(purpose, sk)
	return v.([]byte)
}

// Digest is HMAC-SHA-256 of data under the primary key's subkey for purpose. It returns the key id to store
// beside the sum.
func (kr *Keyring) Digest(purpose string, data []byte) (keyID string, sum []byte) {
	return kr.primary.id, mac(kr.primary.subkey(purpose), data)
}

// VerifyDigest reports, in constant time for a given key, whether sum is Digest(purpose, data) under the key
// keyID. An unknown key id verifies nothing.
func (kr *Keyring) VerifyDigest(purpose, keyID string, data, sum []byte) bool {
	m := kr.MAC(purpose, keyID, data)
	return m != nil && hmac.Equal(m, sum)
}

// MAC is HMAC-SHA-256 of data under keyID's subkey for purpose (what Digest made under that key); nil for an
// unknown key id. Callers checking one input against several digests of one key compute it once and compare
// each digest with hmac.Equal.
func (kr *Keyring) MAC(purpose, keyID string, data []byte) []byte {
	k, ok := kr.byID[keyID]
	if !ok {
		return nil
	}
	sk := k.subkey(purpose)
	if sk == nil {
		return nil
	}
	return mac(sk, data)
}

// Hasher returns an HMAC-SHA-256 hash.Hash under keyID's subkey for purpose, for callers that verify many
// candidates against one input; nil for an unknown key id.
func (kr *Keyring) Hasher(purpose, keyID string) hash.Hash {
	k, ok := kr.byID[keyID]
	if !ok {
		return nil
	}
	sk := k.subkey(purpose)
	if sk == nil {
		return nil
	}
	return hmac.New(sha256.New, sk)
}

func mac(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}

// InternalCredential is the bearer credential authsuite services present to each other, derived from the
// primary key: every service holding the same keyring derives the same value.
func (kr *Keyring) InternalCredential() string {
	return base64.RawURLEncoding.EncodeToString(kr.primary.subkey("internal-rpc"))
}
