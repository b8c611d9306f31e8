package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	opsv1 "github.com/authsuite/authsuite/gen/authsuite/ops/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

// ManifestFile is the name of the manifest in a backup directory. It is written last: a directory without it
// is not a complete backup.
const ManifestFile = "manifest.json"

// ManifestFormat is the manifest format this package writes and reads.
const ManifestFormat = 1

// Manifest describes a complete backup directory.
type Manifest struct {
	Format    int            `json:"format"`    // ManifestFormat
	CreatedAt time.Time      `json:"createdAt"` // when the backup finished
	Databases []DatabaseFile `json:"databases"` // ordered by name
}

// DatabaseFile is one database of a backup.
type DatabaseFile struct {
	Name          string `json:"name"`          // e.g. "registry"
	File          string `json:"file"`          // the file in the backup directory: <name>.db
	SizeBytes     int64  `json:"sizeBytes"`     // its exact size
	SHA256        string `json:"sha256"`        // hex SHA-256 of its bytes
	TransactionID int64  `json:"transactionId"` // the last bbolt transaction it contains
}

// Fetch backs up every database the server lists into dir, which must be absent or empty. Each file is
// written under a temporary name, checked against the stream's size and SHA-256, fsynced and renamed; the
// manifest follows the same way, last. On failure Fetch removes what it wrote and returns an error wrapping
// apierror.ErrFailedPrecondition (dir not empty), a gRPC status (from the server) or another error.
func Fetch(ctx context.Context, c opsv1.BackupServiceClient, dir string, now func() time.Time) (m *Manifest, err error) {
	if err := prepareOut(dir); err != nil {
		return nil, err
	}
	list, err := c.ListDatabases(ctx, &opsv1.ListDatabasesRequest{})
	if err != nil {
		return nil, err
	}
	var written []string
	defer func() {
		if err != nil {
			for _, p := range written {
				os.Remove(p)
			}
		}
	}()
	m = &Manifest{Format: ManifestFormat}
	seen := map[string]bool{}
	for _, d := range list.GetDatabases() {
		name := d.GetName()
		if !validName.MatchString(name) || seen[name] {
			return nil, fmt.Errorf("the server listed an invalid or repeated database name %q", apierror.Clip(name, 64))
		}
		seen[name] = true
		f, err := fetchOne(ctx, c, dir, name)
		if err != nil {
			return nil, fmt.Errorf("database %s: %w", name, err)
		}
		written = append(written, filepath.Join(dir, f.File))
		m.Databases = append(m.Databases, f)
	}
	if len(m.Databases) == 0 {
		return nil, errors.New("the server holds no databases")
	}
	m.CreatedAt = now().UTC().Truncate(time.Second)
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, ManifestFile), bytes.NewReader(append(b, '\n'))); err != nil {
		return nil, err
	}
	return m, nil
}

// prepareOut creates dir, or accepts it when it exists and is empty.
func prepareOut(dir string) error {
	if dir == "" {
		return apierror.Invalid("--out", "required: the directory to write the backup to")
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return apierror.Invalid("--out", "%v", err)
		}
		return nil
	case err != nil:
		return apierror.Invalid("--out", "%v", err)
	case len(entries) > 0:
		return apierror.FailedPrecondition("--out %s is not empty: back up into a new directory", dir)
	}
	return nil
}

// fetchOne streams one database into dir/<name>.db.
func fetchOne(ctx context.Context, c opsv1.BackupServiceClient, dir, name string) (DatabaseFile, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream early on any error
	stream, err := c.Backup(ctx, &opsv1.BackupRequest{Database: name})
	if err != nil {
		return DatabaseFile{}, err
	}
	first, err := stream.Recv()
	if err != nil {
		return DatabaseFile{}, err
	}
	hdr := first.GetHeader()
	if hdr == nil || hdr.GetDatabase() != name || hdr.GetSizeBytes() < 0 {
		return DatabaseFile{}, errors.New("the stream does not start with this database's header")
	}
	r := &streamReader{stream: stream, h: sha256.New()}
	file := name + ".db"
	if err := writeFileAtomic(filepath.Join(dir, file), r); err != nil {
		return DatabaseFile{}, err
	}
	if r.trailer == nil {
		return DatabaseFile{}, errors.New("the stream ended without its trailer")
	}
	sum := r.h.Sum(nil)
	if r.n != hdr.GetSizeBytes() || !bytes.Equal(sum, r.trailer.GetSha256()) {
		os.Remove(filepath.Join(dir, file))
		return DatabaseFile{}, fmt.Errorf("received %d bytes that do not match the announced size %d and checksum", r.n, hdr.GetSizeBytes())
	}
	return DatabaseFile{Name: name, File: file, SizeBytes: r.n, SHA256: hex.EncodeToString(sum), TransactionID: hdr.GetTransactionId()}, nil
}

// streamReader reads the chunks of a backup stream up to its trailer, hashing them.
type streamReader struct {
	stream  opsv1.BackupService_BackupClient
	h       hash.Hash
	n       int64
	pending []byte
	trailer *opsv1.BackupTrailer
}

func (r *streamReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.trailer != nil {
			return 0, io.EOF
		}
		msg, err := r.stream.Recv()
		if errors.Is(err, io.EOF) {
			return 0, io.EOF // checked by the caller: no trailer
		}
		if err != nil {
			return 0, err
		}
		switch part := msg.GetPart().(type) {
		case *opsv1.BackupResponse_Chunk:
			r.pending = part.Chunk
		case *opsv1.BackupResponse_Trailer:
			r.trailer = part.Trailer
		default:
			return 0, errors.New("unexpected message in the backup stream")
		}
	}
	n := copy(p, r.pending)
	r.h.Write(p[:n])
	r.n += int64(n)
	r.pending = r.pending[n:]
	return n, nil
}

// writeFileAtomic writes r to path through a temporary file in the same directory: fsync, rename, fsync of
// the directory. A crash leaves either no file at path or the complete one.
func writeFileAtomic(path string, r io.Reader) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, r); err != nil {
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
