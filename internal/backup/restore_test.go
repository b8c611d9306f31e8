package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/apierror"
)

// writeBackup makes a backup directory holding one bbolt file, with a correct manifest unless edit changes it.
func writeBackup(t *testing.T, damage func(path string), edit func(*Manifest)) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "registry.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("clients"))
		if err != nil {
			return err
		}
		return b.Put([]byte("billing"), []byte("{}"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if damage != nil {
		damage(path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	m := Manifest{Format: ManifestFormat, Databases: []DatabaseFile{{Name: "registry", File: "registry.db", SizeBytes: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}}}
	if edit != nil {
		edit(&m)
	}
	mb, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), mb, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRestoreRefusesBadBackups(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(path string)
		edit   func(*Manifest)
		want   string
	}{
		{"both meta pages broken, checksum recomputed", func(path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			page := int64(os.Getpagesize())
			for _, off := range []int64{16, page + 16} { // inside each meta page
				f.WriteAt([]byte("xxxxxxxxxxxxxxxx"), off)
			}
		}, nil, "bbolt cannot open it"},
		{"wrong size", nil, func(m *Manifest) { m.Databases[0].SizeBytes++ }, "size"},
		{"wrong format", nil, func(m *Manifest) { m.Format = 99 }, "format 99"},
		{"path in the name", nil, func(m *Manifest) { m.Databases[0].Name, m.Databases[0].File = "../x", "../x.db" }, "invalid or repeated name"},
		{"file not named after the database", nil, func(m *Manifest) { m.Databases[0].File = "other.db" }, "invalid or repeated name"},
		{"no databases", nil, func(m *Manifest) { m.Databases = nil }, "lists no databases"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := writeBackup(t, tc.damage, tc.edit)
			target := filepath.Join(t.TempDir(), "data")
			_, err := Restore(RestoreOptions{From: from, DataDir: target})
			var fe *apierror.FieldError
			if !errors.As(err, &fe) || fe.Field != "--from" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Restore: %v, want an error about --from saying %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(target); len(entries) > 0 {
				t.Errorf("a refused restore wrote %v", entries)
			}
		})
	}
}

func TestRestoreInstallsAndKeepsOtherFiles(t *testing.T) {
	from := writeBackup(t, nil, nil)
	target := t.TempDir()
	if err := os.WriteFile(filepath.Join(target, "master.key"), []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(RestoreOptions{From: from, DataDir: target}); err != nil {
		t.Fatal(err)
	}
	if err := Check(filepath.Join(target, "registry.db")); err != nil {
		t.Error(err)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "master.key")); string(b) != "key" {
		t.Error("restore changed master.key")
	}
	_, err := Restore(RestoreOptions{From: from, DataDir: target})
	if !errors.Is(err, apierror.ErrFailedPrecondition) {
		t.Errorf("second restore without --force: %v, want a failed precondition", err)
	}
	// An open database is never replaced, even with Force.
	db, err := bolt.Open(filepath.Join(target, "registry.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = Restore(RestoreOptions{From: from, DataDir: target, Force: true})
	if !errors.Is(err, apierror.ErrFailedPrecondition) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("restore over an open database: %v, want in use", err)
	}
	entries, _ := os.ReadDir(target)
	if len(entries) != 2 {
		t.Errorf("leftover files after restores: %v", entries)
	}
}
