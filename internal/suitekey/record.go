package suitekey

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// A key id is the first 4 bytes of SHA-256 of the key, in hex: a key check value as well as a name. Two
// different keys share an id with probability 2⁻³², so comparing ids is how a store checks, cheaply and
// without any secret, that it is opened with the key its data was written with.

// RetainedPurposes are the digest purposes whose digests outlive a master key. Keyed digests of client
// secrets cannot be recomputed without the secrets, so when a key is dropped (Rekey) its subkeys for these
// purposes, and only these, are kept, sealed under the new primary key: the dropped master key itself, its
// sealing key and its internal credential are gone.
var RetainedPurposes = []string{"client-secret", "recovery-code"} // recovery codes: registry.RecoveryCodeDigestPurpose

// Record is what a data file keeps about the master keys: Keys lists the id of every key that data in the
// file may be sealed or digested under; Retained holds the digest subkeys of dropped keys, each sealed under
// a key of Keys. A Record names keys but holds no secret a reader could use without a master key.
type Record struct {
	Keys     []string          `json:"keys"`
	Retained map[string][]byte `json:"retained,omitempty"`
}

// ParseRecord decodes a stored Record. Empty input is the zero Record (a file from before records existed).
func ParseRecord(b []byte) (Record, error) {
	var r Record
	if len(b) == 0 {
		return r, nil
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, fmt.Errorf("master key record: %w", err)
	}
	for _, id := range append(slices.Clone(r.Keys), slices.Collect(maps.Keys(r.Retained))...) {
		if !validID(id) {
			return Record{}, fmt.Errorf("master key record: bad key id %q", id)
		}
	}
	return r, nil
}

// Marshal encodes r for storage.
func (r Record) Marshal() []byte {
	b, _ := json.Marshal(r) // strings and byte slices: cannot fail
	return b
}

func validID(id string) bool {
	if len(id) != 8 {
		return false
	}
	for _, c := range id {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// MissingKeyError reports that a keyring lacks keys a data file needs.
type MissingKeyError struct {
	Missing []string // ids of the keys the data was written with that the keyring lacks
	Have    []string // ids of the keys the keyring holds
}

func (e *MissingKeyError) Error() string {
	return fmt.Sprintf("data is sealed under master key id %s, which the given key (ids %s) does not hold: "+
		"start with the key the data was written with (a new key cannot open it)",
		strings.Join(e.Missing, ", "), strings.Join(e.Have, ", "))
}

// IDs lists the ids of kr's master keys, primary first.
func (kr *Keyring) IDs() []string {
	ids := []string{kr.primary.id}
	for _, k := range kr.order {
		if k.id != kr.primary.id {
			ids = append(ids, k.id)
		}
	}
	return ids
}

// Check reports, as a *MissingKeyError, whether kr lacks a master key of rec.Keys. It writes nothing.
func (kr *Keyring) Check(rec Record) error {
	var missing []string
	for _, id := range rec.Keys {
		if k, ok := kr.byID[id]; !ok || k.aead == nil {
			missing = append(missing, id)
		}
	}
	if missing != nil {
		return &MissingKeyError{Missing: missing, Have: kr.IDs()}
	}
	return nil
}

// Adopt returns rec with kr's primary key added to Keys, and whether that changed it: a file must list a key
// before anything is sealed under it. A file without a record (written before records existed) may hold data
// under any key of kr, so it gets them all.
func (kr *Keyring) Adopt(rec Record) (Record, bool) {
	if len(rec.Keys) == 0 {
		rec.Keys = kr.IDs()
		return rec, true
	}
	if slices.Contains(rec.Keys, kr.primary.id) {
		return rec, false
	}
	rec.Keys = append(slices.Clone(rec.Keys), kr.primary.id)
	return rec, true
}

func retainedAD(id string) []byte { return []byte("authsuite retained digest keys\x00" + id) }

// WithRetained returns a keyring that also verifies digests under the retained keys of recs (opened with
// kr); it seals, opens and derives the internal credential exactly as kr does. It fails when a retained key
// cannot be opened: Check the records first for a clear error.
func (kr *Keyring) WithRetained(recs ...Record) (*Keyring, error) {
	out := &Keyring{primary: kr.primary, byID: maps.Clone(kr.byID), order: kr.order}
	for _, rec := range recs {
		for id, sealed := range rec.Retained {
			if _, ok := out.byID[id]; ok {
				continue
			}
			plain, err := kr.Open(sealed, retainedAD(id))
			if err != nil {
				return nil, fmt.Errorf("retained digest keys of master key id %s: %w", id, err)
			}
			var subkeys map[string][]byte
			if err := json.Unmarshal(plain, &subkeys); err != nil {
				return nil, fmt.Errorf("retained digest keys of master key id %s: %w", id, err)
			}
			k := &key{id: id}
			for purpose, sk := range subkeys {
				k.subkeys.Store(purpose, sk)
			}
			out.byID[id] = k
		}
	}
	return out, nil
}

// Rekeyed returns the record of a file whose sealed data has all been resealed under kr's primary key: Keys
// is the primary alone, and every other key of rec or of kr (a master key or a retained one) is retained, its
// RetainedPurposes subkeys sealed under the primary. kr's other master keys are retained too, whether rec
// lists them or not: a file from before records existed lists none. kr must hold rec's keys (Check) and its
// retained keys (WithRetained).
func (kr *Keyring) Rekeyed(rec Record) (Record, error) {
	if err := kr.Check(rec); err != nil {
		return Record{}, err
	}
	ids := append(slices.Clone(rec.Keys), slices.Collect(maps.Keys(rec.Retained))...)
	ids = append(ids, kr.IDs()...)
	out := Record{Keys: []string{kr.primary.id}, Retained: map[string][]byte{}}
	for _, id := range ids {
		if _, done := out.Retained[id]; done || id == kr.primary.id {
			continue
		}
		k, ok := kr.byID[id]
		if !ok {
			return Record{}, fmt.Errorf("retained digest keys of master key id %s: %w", id, ErrOpen)
		}
		subkeys := map[string][]byte{}
		for _, p := range RetainedPurposes {
			if sk := k.subkey(p); sk != nil {
				subkeys[p] = sk
			}
		}
		plain, _ := json.Marshal(subkeys)
		out.Retained[id] = kr.Seal(plain, retainedAD(id))
	}
	if len(out.Retained) == 0 {
		out.Retained = nil
	}
	return out, nil
}

// SealedKeyID is the id of the key sealed was made under, as Seal wrote it.
func SealedKeyID(sealed []byte) (string, bool) {
	if len(sealed) < 2 || sealed[0] != 1 || len(sealed) < 2+int(sealed[1]) {
		return "", false
	}
	return string(sealed[2 : 2+int(sealed[1])]), true
}

// Reseal opens sealed under any key of kr and seals it again under the primary key, with the same
// additional data. What is already sealed under the primary key is returned unchanged (changed is false).
func (kr *Keyring) Reseal(sealed, additionalData []byte) (out []byte, changed bool, err error) {
	if id, ok := SealedKeyID(sealed); ok && id == kr.primary.id {
		if _, err := kr.Open(sealed, additionalData); err != nil {
			return nil, false, err
		}
		return sealed, false, nil
	}
	plain, err := kr.Open(sealed, additionalData)
	if err != nil {
		return nil, false, err
	}
	return kr.Seal(plain, additionalData), true, nil
}
