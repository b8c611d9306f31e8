package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestMigrateAndEtcdRestoreUsage: bad arguments of migrate and of restore into etcd are usage errors naming
// the flag, found before any connection is tried (the endpoints here answer nothing).
func TestMigrateAndEtcdRestoreUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"migrate", "--to", "etcd:http://127.0.0.1:1"}, "--from"},
		{[]string{"migrate", "--from", dir, "--to", "etcd:http://127.0.0.1:1"}, "--from"},
		{[]string{"migrate", "--from", "bbolt:" + dir}, "--to"},
		{[]string{"migrate", "--from", "bbolt:" + dir, "--to", "http://127.0.0.1:1"}, "--to"},
		{[]string{"migrate", "--from", "bbolt:" + dir, "--to", "etcd:ftp://127.0.0.1:1"}, "--to"},
		{[]string{"migrate", "--from", "bbolt:" + dir, "--to", "etcd:http://127.0.0.1:1"}, "--master-key-file"},
		{[]string{"migrate", "--from", "bbolt:" + dir, "--to", "etcd:http://127.0.0.1:1", "--etcd-prefix", "nope"}, "--etcd-prefix"},
		{[]string{"restore", "--from", dir, "--to", "etcd:http://127.0.0.1:1", "--data-dir", dir}, "--to"},
		{[]string{"restore", "--from", dir, "--to", "etcd:http://127.0.0.1:1", "--etcd-prefix", "nope"}, "--etcd-prefix"},
		{[]string{"restore", "--from", dir, "--to", "etc:http://127.0.0.1:1"}, "--to"},
		{[]string{"restore", "--from", dir, "--to", "etcd:http://127.0.0.1:1"}, "--from"}, // no manifest

	} {
		var out bytes.Buffer
		err := Run(context.Background(), tc.args, nil, IO{Stdout: &out, Stderr: &out})
		if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("%v: %v (exit %d); want a usage error naming %s", tc.args, err, ExitCode(err), tc.flag)
		}
	}
}
