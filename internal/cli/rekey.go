package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/authsuite/authsuite/internal/rekey"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// rekey reseals a stopped server's data directory under a new master key (internal/rekey). The keyring comes
// from AUTHSUITE_MASTER_KEY or the key file, as for `authsuite serve`: the new key first, then the keys the
// data is sealed under now.
func (e *env) rekey(args []string) error {
	var dataDir, keyFile string
	fs := e.newFlagSet("rekey", "[--data-dir DIR] [--master-key-file FILE]   (the services using DIR stopped)")
	fs.StringVar(&dataDir, "data-dir", "", "data directory to rekey: a one-process server's, or one role's (default AUTHSUITE_DATA_DIR, else ./data)")
	fs.StringVar(&keyFile, "master-key-file", "", "key file holding NEW,OLD[,…] when AUTHSUITE_MASTER_KEY is not set (default AUTHSUITE_MASTER_KEY_FILE, else DATA_DIR/master.key)")
	pos, given, err := e.parse(fs, args)
	if err != nil {
		return err
	}
	if err := positional(pos); err != nil {
		return err
	}
	if !given["data-dir"] {
		dataDir = e.vars["AUTHSUITE_DATA_DIR"]
		if dataDir == "" {
			dataDir = "./data"
		}
	}
	if !given["master-key-file"] {
		keyFile = e.vars["AUTHSUITE_MASTER_KEY_FILE"]
		if keyFile == "" {
			keyFile = filepath.Join(dataDir, "master.key")
		}
	}
	var kr *suitekey.Keyring
	if spec := e.vars["AUTHSUITE_MASTER_KEY"]; spec != "" {
		if kr, err = suitekey.Parse(spec); err != nil {
			return flagErr("AUTHSUITE_MASTER_KEY", "%v", err)
		}
	} else if kr, err = suitekey.LoadFile(keyFile); err != nil {
		return flagErr("--master-key-file", "%v", err)
	}
	if _, err := rekey.Dir(dataDir, kr, e.io.Stdout); err != nil {
		var missing *suitekey.MissingKeyError
		if errors.As(err, &missing) || errors.Is(err, rekey.ErrNoData) {
			return &ExitError{Code: ExitConflict, Err: err}
		}
		return err
	}
	fmt.Fprintf(e.io.Stdout, "done: the data in %s needs only master key id %s; drop the other keys from the key setting, then start the services\n", dataDir, kr.PrimaryID())
	return nil
}
