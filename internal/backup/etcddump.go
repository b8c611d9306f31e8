package backup

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
)

// An etcd dump is the backup of a suite on etcd: every key under the suite's prefix, at one etcd revision,
// with the prefix cut off (so it can be restored under another prefix). Format 1, all integers unsigned
// varints (encoding/binary):
//
//	"authsuite-etcd-dump 1\n"
//	len(header) header          JSON: {"prefix": "/authsuite/", "revision": 123, "keys": N}
//	N times: len(key) key len(value) value   keys relative to the prefix, strictly ascending, not empty
//	SHA-256 of every byte before it (32 bytes), then the end of the file
//
// A dump is complete only when it ends with the checksum of everything before it: a truncated or altered
// file is refused before anything is restored from it.

// EtcdDatabase is the name the backup service lists for the etcd dump of a suite on etcd.
const EtcdDatabase = "etcd"

// dumpMagic starts every etcd dump; the number is the format.
const dumpMagic = "authsuite-etcd-dump 1\n"

// Limits of what ReadDump accepts: etcd's own defaults (a key or value fits a 1.5 MiB request), a header
// that is a few numbers, and a key count no suite comes near.
const (
	maxDumpHeader = 4 << 10
	maxDumpKey    = 3 << 10
	maxDumpValue  = 3 << 19
	maxDumpKeys   = 1 << 28
)

// DumpHeader describes an etcd dump.
type DumpHeader struct {
	Prefix   string `json:"prefix"`   // the suite's prefix the keys were read under
	Revision int64  `json:"revision"` // the etcd revision every key was read at
	Keys     int64  `json:"keys"`     // how many keys follow
}

// DumpWriter writes an etcd dump: NewDumpWriter, Add every key in ascending order, Close.
type DumpWriter struct {
	w    *bufio.Writer
	h    io.Writer // w and sum: every byte written is hashed
	sum  hash.Hash
	want int64
	n    int64
	last []byte
	err  error
}

// NewDumpWriter starts a dump of h.Keys keys on w.
func NewDumpWriter(w io.Writer, h DumpHeader) (*DumpWriter, error) {
	d := &DumpWriter{w: bufio.NewWriterSize(w, 64<<10), want: h.Keys}
	d.sum = sha256.New()
	d.h = io.MultiWriter(d.w, d.sum)
	hdr, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	d.write([]byte(dumpMagic))
	d.bytes(hdr)
	return d, d.err
}

func (d *DumpWriter) write(b []byte) {
	if d.err == nil {
		_, d.err = d.h.Write(b)
	}
}

func (d *DumpWriter) bytes(b []byte) {
	d.write(binary.AppendUvarint(nil, uint64(len(b))))
	d.write(b)
}

// Add writes one key (relative to the prefix) and its value. Keys must come in strictly ascending order.
func (d *DumpWriter) Add(key, value []byte) error {
	switch {
	case d.err != nil:
		return d.err
	case len(key) == 0 || len(key) > maxDumpKey || len(value) > maxDumpValue:
		d.err = fmt.Errorf("etcd dump: key %q: empty, or key or value too long", clip(key))
	case d.last != nil && bytes.Compare(key, d.last) <= 0:
		d.err = fmt.Errorf("etcd dump: key %q out of order", clip(key))
	case d.n >= d.want:
		d.err = fmt.Errorf("etcd dump: more than the %d keys announced", d.want)
	}
	if d.err != nil {
		return d.err
	}
	d.last = append(d.last[:0], key...)
	d.n++
	d.bytes(key)
	d.bytes(value)
	return d.err
}

// Close writes the checksum and flushes; it fails when fewer keys were added than announced.
func (d *DumpWriter) Close() error {
	if d.err == nil && d.n != d.want {
		d.err = fmt.Errorf("etcd dump: %d keys written, %d announced", d.n, d.want)
	}
	if d.err != nil {
		return d.err
	}
	if _, err := d.w.Write(d.sum.Sum(nil)); err != nil {
		return err
	}
	return d.w.Flush()
}

// ErrBadDump is wrapped by every error of ReadDump about the dump's content.
var ErrBadDump = errors.New("not a complete authsuite etcd dump")

// ReadDump reads an etcd dump from r, calling fn with every key (relative to the prefix) and value in order
// (the slices are fn's to keep), and returns its header once the checksum at the end matched. A dump that is
// truncated, altered, out of order, or followed by anything is an error wrapping ErrBadDump; fn has then seen
// unverified entries, so a caller that acts on them reads the dump once to verify it first (nil fn).
func ReadDump(r io.Reader, fn func(key, value []byte) error) (DumpHeader, error) {
	sha := sha256.New()
	br := bufio.NewReaderSize(r, 64<<10)
	tr := io.TeeReader(br, sha)
	bad := func(format string, args ...any) (DumpHeader, error) {
		return DumpHeader{}, fmt.Errorf("%w: %s", ErrBadDump, fmt.Sprintf(format, args...))
	}
	magic := make([]byte, len(dumpMagic))
	if _, err := io.ReadFull(tr, magic); err != nil || string(magic) != dumpMagic {
		return bad("it does not start with %q", strings.TrimSpace(dumpMagic))
	}
	bs := byteReader{tr}
	field := func(limit int) ([]byte, error) {
		n, err := binary.ReadUvarint(bs)
		if err != nil {
			return nil, err
		}
		if n > uint64(limit) {
			return nil, fmt.Errorf("a field of %d bytes, at most %d", n, limit)
		}
		b := make([]byte, n)
		_, err = io.ReadFull(tr, b)
		return b, err
	}
	raw, err := field(maxDumpHeader)
	if err != nil {
		return bad("header: %v", err)
	}
	var h DumpHeader
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil || dec.More() {
		return bad("header: %v", err)
	}
	if h.Keys < 0 || h.Keys > maxDumpKeys || h.Revision < 0 {
		return bad("header: %d keys at revision %d", h.Keys, h.Revision)
	}
	var last []byte
	for i := int64(0); i < h.Keys; i++ {
		key, err := field(maxDumpKey)
		if err != nil {
			return bad("key %d: %v", i, err)
		}
		if len(key) == 0 || (last != nil && bytes.Compare(key, last) <= 0) {
			return bad("key %d (%q): empty or out of order", i, clip(key))
		}
		value, err := field(maxDumpValue)
		if err != nil {
			return bad("value of key %q: %v", clip(key), err)
		}
		last = key
		if fn != nil {
			if err := fn(key, value); err != nil {
				return DumpHeader{}, err
			}
		}
	}
	want := sha.Sum(nil)
	got := make([]byte, sha256.Size)
	if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, want) {
		return bad("the checksum at the end is missing or does not match")
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		return bad("bytes after the checksum")
	}
	return h, nil
}

// byteReader reads single bytes through r (for binary.ReadUvarint), so the hash sees every byte once.
type byteReader struct{ r io.Reader }

func (b byteReader) ReadByte() (byte, error) {
	var p [1]byte
	_, err := io.ReadFull(b.r, p[:])
	return p[0], err
}

func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}
