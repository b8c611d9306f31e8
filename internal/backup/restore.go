package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/authsuite/authsuite/internal/apierror"
)

// RestoreOptions say what Restore does.
type RestoreOptions struct {
	From    string // a backup directory written by Fetch
	DataDir string // the data directory to restore into (created when missing)
	Force   bool   // replace database files that exist in DataDir (never ones a process has open)
	// LockTimeout is how long to wait for a target file's lock before calling it in use (default 500ms).
	LockTimeout time.Duration
}

// Restore checks every file of the backup in opts.From against its manifest (size, SHA-256) and with
// bbolt's consistency check, then installs them into opts.DataDir: each copied under a temporary name and
// fsynced, and only when all are copied, renamed into place. It changes nothing when the backup is
// incomplete or damaged (an error wrapping *apierror.FieldError for --from), or when a target file exists
// without Force or is open in a running process (apierror.ErrFailedPrecondition). Other files in DataDir
// (the master key) are left alone.
func Restore(opts RestoreOptions) (*Manifest, error) {
	if opts.From == "" {
		return nil, apierror.Invalid("--from", "required: a backup directory")
	}
	if opts.DataDir == "" {
		return nil, apierror.Invalid("--data-dir", "required: the data directory to restore into")
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 500 * time.Millisecond
	}
	if same(opts.From, opts.DataDir) {
		return nil, apierror.Invalid("--data-dir", "must not be the backup directory")
	}
	m, err := ReadManifest(opts.From)
	if err != nil {
		return nil, err
	}
	for _, d := range m.Databases {
		if d.Name == EtcdDatabase {
			return nil, apierror.Invalid("--from", "%s is a backup of a suite on etcd: restore it into an empty etcd prefix (--to etcd:ENDPOINTS)", opts.From)
		}
	}
	for _, d := range m.Databases {
		if err := Verify(filepath.Join(opts.From, d.File), d); err != nil {
			return nil, apierror.Invalid("--from", "%s: %v", d.File, err)
		}
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, apierror.Invalid("--data-dir", "%v", err)
	}

	// Hold a shared lock on every existing target until the renames are done, so that no server opens the
	// old files half-way through.
	for _, d := range m.Databases {
		target := filepath.Join(opts.DataDir, d.File)
		if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, apierror.Invalid("--data-dir", "%v", err)
		}
		if !opts.Force {
			return nil, apierror.FailedPrecondition("%s exists: pass --force to replace it", target)
		}
		db, err := bolt.Open(target, 0o600, &bolt.Options{ReadOnly: true, Timeout: opts.LockTimeout})
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, apierror.FailedPrecondition("%s is in use by a running process: stop it before restoring", target)
		}
		if err == nil {
			defer db.Close()
		} // a damaged target cannot be open in a server either; --force replaces it
	}

	var temps []string
	defer func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}()
	for _, d := range m.Databases {
		tmp, err := copyToTemp(filepath.Join(opts.From, d.File), opts.DataDir, d.File)
		if tmp != "" {
			temps = append(temps, tmp)
		}
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", d.File, err)
		}
	}
	for i, d := range m.Databases {
		if err := os.Rename(temps[i], filepath.Join(opts.DataDir, d.File)); err != nil {
			return nil, fmt.Errorf("install %s: %w", d.File, err)
		}
	}
	temps = nil
	if err := syncDir(opts.DataDir); err != nil {
		return nil, err
	}
	return m, nil
}

// ReadManifest reads and checks dir/manifest.json. Errors wrap *apierror.FieldError for --from.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, apierror.Invalid("--from", "%s has no %s: not a complete backup", dir, ManifestFile)
	}
	if err != nil {
		return nil, apierror.Invalid("--from", "%v", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, apierror.Invalid("--from", "%s: %v", ManifestFile, err)
	}
	if m.Format != ManifestFormat {
		return nil, apierror.Invalid("--from", "%s: format %d, want %d", ManifestFile, m.Format, ManifestFormat)
	}
	if len(m.Databases) == 0 {
		return nil, apierror.Invalid("--from", "%s lists no databases", ManifestFile)
	}
	seen := map[string]bool{}
	for i, d := range m.Databases {
		if !validName.MatchString(d.Name) || d.File != d.Name+".db" || seen[d.Name] {
			return nil, apierror.Invalid("--from", "%s: databases[%d]: invalid or repeated name %q / file %q", ManifestFile, i, apierror.Clip(d.Name, 64), apierror.Clip(d.File, 64))
		}
		seen[d.Name] = true
	}
	return &m, nil
}

// Verify checks that the file at path has the size and SHA-256 the manifest entry names, and that bbolt
// opens it and finds it consistent (tx.Check); an etcd dump (EtcdDatabase) is checked by ReadDump instead.
func Verify(path string, d DatabaseFile) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	f.Close()
	if err != nil {
		return err
	}
	if n != d.SizeBytes {
		return fmt.Errorf("size %d, manifest says %d", n, d.SizeBytes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != d.SHA256 {
		return errors.New("SHA-256 does not match the manifest")
	}
	if d.Name == EtcdDatabase {
		_, err := checkDump(path)
		return err
	}
	return Check(path)
}

// Check opens a bbolt file read-only and runs bbolt's consistency check over it.
func Check(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("bbolt cannot open it: %w", err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("bbolt consistency check: %w", errors.Join(errs...))
		}
		return nil
	})
}

// copyToTemp copies src to a new temporary file in dir and fsyncs it, returning its path.
func copyToTemp(src, dir, name string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(dir, "."+name+".restore-*")
	if err != nil {
		return "", err
	}
	defer tmp.Close()
	if _, err := io.Copy(tmp, in); err != nil {
		return tmp.Name(), err
	}
	if err := tmp.Chmod(0o600); err != nil {
		return tmp.Name(), err
	}
	return tmp.Name(), tmp.Sync()
}

// same reports whether two paths name the same directory.
func same(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	return filepath.Clean(a) == filepath.Clean(b)
}
