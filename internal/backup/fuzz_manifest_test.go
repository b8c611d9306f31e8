package backup

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/authsuite/authsuite/internal/apierror"
)

// safeDBName is an independent statement of what a database name in a manifest may be: 1 to 64 bytes of
// a-z, 0-9, '_' and '-', not starting with '_' or '-' (it becomes the file name <name>.db, so it can never
// hold a separator, a dot or a byte outside ASCII).
func safeDBName(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] == '_' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// FuzzReadManifest checks ReadManifest on arbitrary manifest.json bytes:
//   - a refused manifest yields an error wrapping *apierror.FieldError for --from;
//   - an accepted one has format 1 and at least one database, and every database has a safe, unique name
//     and the file <name>.db, local to the backup directory (restore joins it to two directories);
//   - round trip: the accepted manifest, written back as JSON, reads back equal.
func FuzzReadManifest(f *testing.F) {
	for _, s := range []string{
		`{"format":1,"createdAt":"2026-11-22T09:00:00Z","databases":[{"name":"registry","file":"registry.db","sizeBytes":32768,"sha256":"` + "00" + `","transactionId":4}]}`,
		`{"format":1,"databases":[{"name":"provider","file":"provider.db"},{"name":"token","file":"token.db"}]}`,
		`{"format":1,"databases":[{"name":"../x","file":"../x.db"}]}`,
		`{"format":1,"databases":[{"name":"a","file":"a.db"},{"name":"a","file":"a.db"}]}`,
		`{"format":2,"databases":[{"name":"a","file":"a.db"}]}`,
		`{"format":1,"databases":[]}`,
		`{"format":1,"databases":[{"name":"A","file":"A.db"}]}`,
		`{"format":1,"databases":[{"name":"a\u0000","file":"a\u0000.db"}]}`,
		`{"FORMAT":1,"Databases":[{"NAME":"a","File":"a.db"}],"format":1}`,
		`[]`, `null`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	dir, err := os.MkdirTemp("", "fuzz-manifest-")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, ManifestFile)
	read := func(t *testing.T, b []byte) (*Manifest, error) {
		t.Helper()
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return ReadManifest(dir)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := read(t, b)
		if err != nil {
			var fe *apierror.FieldError
			if !errors.As(err, &fe) || fe.Field != "--from" {
				t.Fatalf("error %v does not name --from", err)
			}
			return
		}
		if m.Format != ManifestFormat || len(m.Databases) == 0 {
			t.Fatalf("accepted format %d with %d databases", m.Format, len(m.Databases))
		}
		var names []string
		for _, d := range m.Databases {
			if !safeDBName(d.Name) || d.File != d.Name+".db" || !filepath.IsLocal(d.File) || filepath.Base(d.File) != d.File || slices.Contains(names, d.Name) {
				t.Fatalf("accepted database name %q file %q (names so far %q)", d.Name, d.File, names)
			}
			names = append(names, d.Name)
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		again, err := read(t, out)
		if err != nil {
			t.Fatalf("the accepted manifest, written back, is refused: %v", err)
		}
		if !again.CreatedAt.Equal(m.CreatedAt) || again.Format != m.Format || !slices.Equal(again.Databases, m.Databases) {
			t.Fatalf("round trip changed the manifest: %+v → %+v", m, again)
		}
	})
}
