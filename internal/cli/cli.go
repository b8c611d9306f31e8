// Package cli implements authsuite's operator commands: tenant, client, secret, user and provider talk to a
// running suite over gRPC (the same APIs the REST gateway serves), backup streams its databases over gRPC,
// and restore installs a backup into a stopped server's data directory.
//
// Every command prints its result to stdout (--output json: the REST API's camelCase objects; --output table:
// aligned columns), reports failure as an *ExitError whose Code says what went wrong (see Usage), and never
// prints a secret except a client secret's value in the answer that creates it.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/authsuite/authsuite/internal/apierror"
)

// IO is where a command reads and writes.
type IO struct {
	Stdin  io.Reader // --password-stdin and "-" files read from here
	Stdout io.Writer // results
	Stderr io.Writer // usage text and notes
}

// Commands are the command names Run handles.
var Commands = []string{"tenant", "client", "secret", "user", "provider", "backup", "restore", "rekey", "migrate"}

// Handles reports whether Run handles the command name.
func Handles(name string) bool { return slices.Contains(Commands, name) }

// Usage describes the operator commands and the exit codes; `authsuite help` prints it.
const Usage = `operator commands (gRPC; run "authsuite <command> -h" for the flags):
  tenant   create|list|get|update|delete       tenants (system tenant only)
  client   create|list|get|update|delete       OAuth clients of a tenant (--from-file takes the REST JSON body)
  secret   create|list|delete                  client secrets (the value is printed once, by create)
  user     create|list|get|update|delete       users of a tenant (--password-stdin)
  provider load FILE|list|delete               third-party OAuth provider configurations
  backup   --out DIR                           consistent copy of every database of a running server
                                               (with --store etcd: the suite's keys at one etcd revision)
  restore  --from DIR --data-dir DIR [--force] install a backup into a stopped server's data directory
  restore  --from DIR --to etcd:ENDPOINTS      restore the backup of a suite on etcd into an empty prefix
  rekey    [--data-dir DIR]                    reseal a stopped server's data under a new master key: the key
                                               setting holds NEW,OLD; afterwards NEW alone works (README)
  migrate  --from bbolt:DIR --to etcd:ENDPOINTS copy a stopped install's data directory (or a restored backup
                                               of a running one) into an empty etcd prefix (--etcd-prefix)

  Every command names the object it acts on by its id, the first argument: "tenant get ID",
  "client create ID", "client update ID", "secret delete ID --client CLIENT_ID", "user get ID" (tenant and
  client create also take it as --id, deprecated); the tenant or client an object belongs to is a flag
  (--tenant, default the system tenant; --client).

  Connection: --grpc-addr (AUTHSUITE_GRPC_ADDR, default 127.0.0.1:9090); credentials --token
  (AUTHSUITE_TOKEN), or --client-id/--client-secret (AUTHSUITE_CLIENT_ID/AUTHSUITE_CLIENT_SECRET; default
  client admin with AUTHSUITE_BOOTSTRAP_SECRET) exchanged for a token with scope adminapi; --output json|table
  (AUTHSUITE_OUTPUT, default table); mutual TLS to roles run with it: --grpc-tls-ca, --grpc-tls-cert,
  --grpc-tls-key (AUTHSUITE_GRPC_TLS_*).

exit codes:
  0  success
  1  usage error or invalid input (the message names the flag or field)
  2  not found
  3  authentication failed or permission denied
  4  conflict or failed precondition (already exists, in use, target not empty)
  5  server unavailable or internal error
`

// Exit codes of the operator commands.
const (
	ExitOK          = 0
	ExitUsage       = 1
	ExitNotFound    = 2
	ExitAuth        = 3
	ExitConflict    = 4
	ExitUnavailable = 5
)

// ExitError is a failed command: Code is the process exit code, Err says why.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode is the process exit code for an error returned by Run (or by any other command): 0 for nil, the
// code of an *ExitError, else 1.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitUsage
}

// errHelp is returned by flag parsing when -h was given; Run turns it into success.
var errHelp = errors.New("help requested")

// Run runs the operator command args[0] with its arguments. env holds "KEY=value" pairs. The error, when not
// nil, is an *ExitError carrying the exit code and a message naming the offending flag or field.
func Run(ctx context.Context, args, env []string, stdio IO) error {
	if len(args) == 0 || !Handles(args[0]) {
		return &ExitError{Code: ExitUsage, Err: errors.New("unknown command")}
	}
	e := newEnv(env, stdio)
	var err error
	switch args[0] {
	case "tenant":
		err = e.tenant(ctx, args[1:])
	case "client":
		err = e.client(ctx, args[1:])
	case "secret":
		err = e.secret(ctx, args[1:])
	case "user":
		err = e.user(ctx, args[1:])
	case "provider":
		err = e.provider(ctx, args[1:])
	case "backup":
		err = e.backup(ctx, args[1:])
	case "restore":
		err = e.restore(ctx, args[1:])
	case "rekey":
		err = e.rekey(args[1:])
	case "migrate":
		err = e.migrate(ctx, args[1:])
	}
	if errors.Is(err, errHelp) {
		return nil
	}
	if err == nil {
		return nil
	}
	return classify(args[0], err)
}

// env is one command invocation's environment.
type env struct {
	vars map[string]string
	io   IO
	help func() // prints the flags of the command being parsed
}

func newEnv(vars []string, stdio IO) *env {
	m := map[string]string{}
	for _, kv := range vars {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	if stdio.Stdin == nil {
		stdio.Stdin = strings.NewReader("")
	}
	return &env{vars: m, io: stdio}
}

// subcommand dispatches "<command> <verb> …" to the verb's function.
func (e *env) subcommand(ctx context.Context, command string, args []string, verbs map[string]func(context.Context, []string) error) error {
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range verbs {
			if !yield(k) {
				return
			}
		}
	})
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(e.io.Stderr, "usage: authsuite %s %s [flags]\n", command, strings.Join(names, "|"))
		if len(args) == 0 {
			return usageErr("missing subcommand: want one of %s", strings.Join(names, ", "))
		}
		return errHelp
	}
	f, ok := verbs[args[0]]
	if !ok {
		return usageErr("unknown subcommand %q: want one of %s", apierror.Clip(args[0], 64), strings.Join(names, ", "))
	}
	return f(ctx, args[1:])
}
