package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
	"github.com/authsuite/authsuite/internal/config"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// StoreFiles are the bbolt files of the roles that run services, by role, in the data directory.
var StoreFiles = map[config.Role]string{
	config.RoleRegistry: "registry.db",
	config.RoleToken:    "token.db",
	config.RoleProvider: "provider.db",
}

// roleFiles lists the paths of the files role opens in cfg.DataDir.
func roleFiles(cfg config.Config) []string {
	var paths []string
	for _, r := range []config.Role{config.RoleRegistry, config.RoleToken, config.RoleProvider} {
		if cfg.Role.Runs(r) {
			paths = append(paths, filepath.Join(cfg.DataDir, StoreFiles[r]))
		}
	}
	return paths
}

// keySource names where the master key comes from, for error messages.
func keySource(cfg config.Config) string {
	if cfg.MasterKey != "" {
		return "AUTHSUITE_MASTER_KEY"
	}
	return fmt.Sprintf("--master-key-file (%s) %s", config.EnvName("master-key-file"), cfg.MasterKeyFile)
}

// openKeyring returns the master keyring of a role that runs services: AUTHSUITE_MASTER_KEY when set, else
// the key file. Before any store opens it checks, reading each of the role's existing files without writing
// to it, that the keyring holds every key the file's data is sealed under; a mismatch, or a missing key file
// while data exists, is an error naming the file, the setting and the key ids, and nothing is written. Only
// without any data is a missing key file created. The keyring also verifies the digests of keys a rekey
// dropped (suitekey.Record.Retained).
//
// With --store memory nothing is read or written: the keyring is AUTHSUITE_MASTER_KEY, or a key generated
// for this process alone (config requires the variable when roles run in separate processes).
func openKeyring(cfg config.Config) (*suitekey.Keyring, error) {
	var (
		kr  *suitekey.Keyring
		err error
	)
	if cfg.MasterKey != "" {
		if kr, err = suitekey.Parse(cfg.MasterKey); err != nil {
			return nil, fmt.Errorf("AUTHSUITE_MASTER_KEY: %w", err)
		}
	}
	if cfg.Store == config.StoreMemory {
		if kr == nil {
			return suitekey.Parse(suitekey.Generate())
		}
		return kr, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("--data-dir: %w", err)
	}
	var (
		recs     []suitekey.Record
		withData []string // files that exist
	)
	for _, path := range roleFiles(cfg) {
		rec, exists, err := boltdb.ReadKeyRecord(path)
		if err != nil {
			return nil, fmt.Errorf("--data-dir: %w", err)
		}
		if exists {
			recs = append(recs, rec)
			withData = append(withData, path)
		}
	}
	if kr == nil {
		if kr, err = loadKeyFile(cfg.MasterKeyFile, withData, recs); err != nil {
			return nil, err
		}
	}
	for i, rec := range recs {
		if err := kr.Check(rec); err != nil {
			var missing *suitekey.MissingKeyError
			if errors.As(err, &missing) {
				return nil, fmt.Errorf("%s: %s holds data sealed under master key id %s, but the key has id %s: start with the key the data was written with (or restore it from backup); nothing was changed",
					keySource(cfg), withData[i], strings.Join(missing.Missing, ", "), strings.Join(missing.Have, ", "))
			}
			return nil, err
		}
	}
	kr, err = kr.WithRetained(recs...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keySource(cfg), err)
	}
	return kr, nil
}

// loadKeyFile reads the key file; when it does not exist it creates one, unless data files exist (then a
// new key could open nothing, and creating it would hide the loss).
func loadKeyFile(path string, withData []string, recs []suitekey.Record) (*suitekey.Keyring, error) {
	src := fmt.Sprintf("--master-key-file (%s)", config.EnvName("master-key-file"))
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && len(withData) > 0 {
		var ids []string
		for _, r := range recs {
			ids = append(ids, r.Keys...)
		}
		expected := "its key"
		if len(ids) > 0 {
			expected = "master key id " + strings.Join(dedupe(ids), ", ")
		}
		return nil, fmt.Errorf("%s: %s does not exist, but %s hold%s data sealed under %s: restore the key file or set AUTHSUITE_MASTER_KEY (a new key would open nothing); nothing was changed",
			src, path, strings.Join(withData, ", "), map[bool]string{true: "s", false: ""}[len(withData) == 1], expected)
	}
	kr, err := suitekey.LoadOrCreateFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	return kr, nil
}

// adoptKeys records in each store that its data is sealed under the primary key from now on.
func adoptKeys(dbs map[string]*bolt.DB, kr *suitekey.Keyring) error {
	for name, db := range dbs {
		if err := boltdb.AdoptKeys(db, kr); err != nil {
			return fmt.Errorf("%s store: %w", name, err)
		}
	}
	return nil
}

func dedupe(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
