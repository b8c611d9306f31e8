package e2e

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runFailing runs the built binary with args and env, expecting it to exit non-zero within 30 s, and returns
// what it wrote to stderr.
func runFailing(t *testing.T, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, authsuiteBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() <= 0 {
		t.Fatalf("authsuite %v: want a non-zero exit, got %v\nstdout: %s\nstderr: %s", args, err, stdout.String(), stderr.String())
	}
	return stderr.String()
}

// oneLine checks that out is exactly one line naming want and no panic trace.
func oneLine(t *testing.T, out, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], want) || strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
		t.Errorf("want one line naming %q, got:\n%s", want, out)
	}
}

// TestStartupFailuresAreOneLine: a start-up failure (item 26) — an occupied HTTP or gRPC port, a malformed
// AUTHSUITE_MASTER_KEY, a data directory that cannot be used — prints one line naming the setting and exits
// non-zero; it never panics.
func TestStartupFailuresAreOneLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"AUTHSUITE_BOOTSTRAP_SECRET=" + bootstrapSecret}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"http port in use", env, []string{"--http-addr", busy.Addr().String()}, "--http-addr"},
		{"grpc port in use", env, []string{"--grpc-addr", busy.Addr().String()}, "--grpc-addr"},
		{"malformed master key", append([]string{"AUTHSUITE_MASTER_KEY=not-a-key"}, env...), nil, "AUTHSUITE_MASTER_KEY"},
		{"data dir is a file", env, []string{"--data-dir", filepath.Join(notADir, "data")}, "--data-dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"serve", "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"}
			if !hasArg(tc.args, "--data-dir") {
				args = append(args, "--data-dir", t.TempDir())
			}
			out := runFailing(t, tc.env, append(args, tc.args...)...)
			oneLine(t, out, tc.want)
			if strings.Contains(out, "not-a-key") {
				t.Errorf("the error quotes the key: %s", out)
			}
		})
	}
}

func hasArg(args []string, name string) bool {
	for _, a := range args {
		if a == name {
			return true
		}
	}
	return false
}
