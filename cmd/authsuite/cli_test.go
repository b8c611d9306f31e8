package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/authsuite/authsuite/internal/cli"
)

// The operator commands are dispatched from run, and their exit codes documented in `authsuite help`.
func TestOperatorCommandsDispatch(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"help"}, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"exit codes", "2  not found", "backup", "restore", "provider load"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("authsuite help lacks %q:\n%s", want, out.String())
		}
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"tenant", "list", "--output", "yaml"}, cli.ExitUsage},
		{[]string{"restore", "--from", t.TempDir(), "--data-dir", t.TempDir()}, cli.ExitUsage},
		{[]string{"client", "list", "--grpc-addr", "127.0.0.1:1", "--token", "t"}, cli.ExitUnavailable},
		{[]string{"no-such-command"}, cli.ExitUsage},
	} {
		err := run(context.Background(), tc.args, nil, &out, &errOut)
		if got := cli.ExitCode(err); got != tc.code {
			t.Errorf("authsuite %s: exit %d (%v), want %d", strings.Join(tc.args, " "), got, err, tc.code)
		}
	}
}
