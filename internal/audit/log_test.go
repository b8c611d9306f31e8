package audit_test

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/audit"
	"github.com/authsuite/authsuite/internal/audit/logtest"
	"github.com/authsuite/authsuite/internal/etcdtest"
)

func TestMemoryLog(t *testing.T) {
	logtest.Run(t, func(t *testing.T, max int) audit.Log { return audit.NewMemoryLog(max) })
}

func TestBoltLog(t *testing.T) {
	logtest.Run(t, func(t *testing.T, max int) audit.Log {
		db, err := bolt.Open(filepath.Join(t.TempDir(), "audit.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := db.View(func(tx *bolt.Tx) error { return <-tx.Check() }); err != nil {
				t.Error(err)
			}
			db.Close()
		})
		l, err := audit.NewBoltLog(db, max)
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

func TestEtcdLog(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd")
	}
	c := etcdtest.Start(t, 1)
	cli := c.Client(t)
	n := 0
	logtest.Run(t, func(t *testing.T, max int) audit.Log {
		n++
		return audit.NewEtcdLog(cli, "/test/audit/"+string(rune('a'+n))+"/", max)
	})
}
