package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/tlsconfig"
)

// common are the flags every gRPC command takes. Each has an AUTHSUITE_* environment variable, which a flag
// given on the command line overrides.
type common struct {
	addr         string
	clientID     string
	clientSecret string
	token        string
	output       string
	timeout      time.Duration
	tlsCA        string // with tlsCert and tlsKey: mutual TLS to roles started with --grpc-tls-*
	tlsCert      string
	tlsKey       string
}

// envFlags are the flags whose AUTHSUITE_* variables apply (only these: a variable must not fill in an
// unrelated flag such as --name).
var envFlags = map[string]string{
	"grpc-addr":     "AUTHSUITE_GRPC_ADDR",
	"client-id":     "AUTHSUITE_CLIENT_ID",
	"client-secret": "AUTHSUITE_CLIENT_SECRET",
	"token":         "AUTHSUITE_TOKEN",
	"output":        "AUTHSUITE_OUTPUT",
	"timeout":       "AUTHSUITE_TIMEOUT",
	"grpc-tls-ca":   "AUTHSUITE_GRPC_TLS_CA",
	"grpc-tls-cert": "AUTHSUITE_GRPC_TLS_CERT",
	"grpc-tls-key":  "AUTHSUITE_GRPC_TLS_KEY",
	"tenant":        "AUTHSUITE_TENANT",
}

// newFlagSet returns a flag set for "authsuite <name>" that writes its usage to stderr.
func (e *env) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("authsuite "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors itself, once
	fs.Usage = func() {}     // called on every parse error too; parse prints the help for -h only
	e.help = func() {
		fmt.Fprintln(e.io.Stderr, strings.TrimSpace("usage: authsuite "+name+" "+synopsis))
		fs.SetOutput(e.io.Stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// register adds the connection and output flags to fs.
func (c *common) register(fs *flag.FlagSet, defaultTimeout time.Duration) {
	fs.StringVar(&c.addr, "grpc-addr", "127.0.0.1:9090", "gRPC address of the server")
	fs.StringVar(&c.clientID, "client-id", "admin", "client whose credentials are exchanged for an adminapi token")
	fs.StringVar(&c.clientSecret, "client-secret", "", "that client's secret (prefer AUTHSUITE_CLIENT_SECRET; default AUTHSUITE_BOOTSTRAP_SECRET)")
	fs.StringVar(&c.token, "token", "", "an access token with scope adminapi, used instead of client credentials (prefer AUTHSUITE_TOKEN)")
	fs.StringVar(&c.output, "output", "table", "output format: json or table")
	fs.DurationVar(&c.timeout, "timeout", defaultTimeout, "give up after this long (0: never)")
	fs.StringVar(&c.tlsCA, "grpc-tls-ca", "", "CA of the roles' certificates: connect with mutual TLS (with --grpc-tls-cert, --grpc-tls-key)")
	fs.StringVar(&c.tlsCert, "grpc-tls-cert", "", "client certificate for mutual TLS (PEM)")
	fs.StringVar(&c.tlsKey, "grpc-tls-key", "", "its private key (PEM)")
}

// parse parses args with fs, letting positional arguments and flags mix ("get ID --tenant t"), applies the
// AUTHSUITE_* variables of flags not given, and returns the positional arguments and the flags given.
func (e *env) parse(fs *flag.FlagSet, args []string) ([]string, map[string]bool, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				if e.help != nil {
					e.help()
				}
				return nil, nil, errHelp
			}
			return nil, nil, usageErr("%v (run \"%s -h\" for the flags)", err, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, variable := range envFlags {
		v, ok := e.vars[variable]
		if given[name] || !ok || fs.Lookup(name) == nil {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return nil, nil, flagErr("--"+name, "%s: %v", variable, err)
		}
	}
	if f := fs.Lookup("output"); f != nil {
		if v := f.Value.String(); v != "json" && v != "table" {
			return nil, nil, flagErr("--output", "want json or table, got %q", apierror.Clip(v, 64))
		}
	}
	return pos, given, nil
}

// positional checks the number of positional arguments.
func positional(pos []string, names ...string) error {
	if len(pos) < len(names) {
		return usageErr("missing argument %s", strings.ToUpper(names[len(pos)]))
	}
	if len(pos) > len(names) {
		return usageErr("unexpected argument %q", apierror.Clip(pos[len(names)], 64))
	}
	return nil
}

// session is a connection to the server carrying an access token.
type session struct {
	conn *grpc.ClientConn
	ctx  context.Context // carries the authorization metadata and the timeout
	stop func()
}

func (s *session) close() {
	s.stop()
	s.conn.Close()
}

// connect dials the server and obtains the access token: --token as given, or a client_credentials token
// with scope adminapi for --client-id/--client-secret (AUTHSUITE_BOOTSTRAP_SECRET for client admin).
func (e *env) connect(ctx context.Context, c *common) (*session, error) {
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		return nil, flagErr("--grpc-addr", "want host:port, got %q", apierror.Clip(c.addr, 64))
	}
	creds := insecure.NewCredentials()
	if c.tlsCA != "" || c.tlsCert != "" || c.tlsKey != "" {
		if c.tlsCA == "" || c.tlsCert == "" || c.tlsKey == "" {
			return nil, flagErr("--grpc-tls-ca", "mutual TLS needs --grpc-tls-ca, --grpc-tls-cert and --grpc-tls-key together")
		}
		tlsCfg, err := tlsconfig.Mutual(c.tlsCert, c.tlsKey, c.tlsCA, false)
		if err != nil {
			return nil, flagErr("--grpc-tls-cert", "%v", err)
		}
		creds = credentials.NewTLS(tlsCfg)
	}
	conn, err := grpc.NewClient(c.addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, flagErr("--grpc-addr", "%v", err)
	}
	stop := func() {}
	if c.timeout > 0 {
		ctx, stop = context.WithTimeout(ctx, c.timeout)
	}
	s := &session{conn: conn, ctx: ctx, stop: stop}
	token := c.token
	if token == "" {
		if token, err = e.exchange(ctx, conn, c); err != nil {
			s.close()
			return nil, err
		}
	}
	s.ctx = metadata.AppendToOutgoingContext(ctx, access.MDAuthorization, "Bearer "+token)
	return s, nil
}

// exchange gets a client_credentials access token (RFC 6749 §4.4) with scope adminapi.
func (e *env) exchange(ctx context.Context, conn *grpc.ClientConn, c *common) (string, error) {
	secret := c.clientSecret
	if secret == "" && c.clientID == "admin" {
		secret = e.vars["AUTHSUITE_BOOTSTRAP_SECRET"]
	}
	if c.clientID == "" || secret == "" {
		return "", &ExitError{Code: ExitAuth, Err: errors.New("no credentials: set --token (AUTHSUITE_TOKEN), or --client-id and --client-secret (AUTHSUITE_CLIENT_SECRET; AUTHSUITE_BOOTSTRAP_SECRET for client admin)")}
	}
	resp, err := tokenv1.NewOAuthServiceClient(conn).Token(ctx, &tokenv1.TokenRequest{
		Client:    &tokenv1.ClientCredentials{ClientId: c.clientID, ClientSecret: secret},
		GrantType: "client_credentials",
		Scope:     access.ScopeAdminAPI,
	})
	if err != nil {
		code, msg := fromStatus(err)
		switch status.Code(err) {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Internal, codes.Unknown, codes.Unimplemented:
		default:
			code = ExitAuth // a refused client or scope is an authentication failure, whatever its OAuth code
		}
		return "", &ExitError{Code: code, Err: fmt.Errorf("cannot get an access token for client %q: %s", apierror.Clip(c.clientID, 64), clean(msg))}
	}
	return resp.GetAccessToken(), nil
}

// maxInput bounds the files the commands read (a client body, a provider configuration).
const maxInput = 4 << 20

func readFileLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxInput+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxInput)
	}
	return b, nil
}

// readInput reads a file named by a flag or argument; "-" is stdin. Errors name the flag.
func (e *env) readInput(flagName, path string) ([]byte, error) {
	var r io.Reader = e.io.Stdin
	if path != "-" {
		b, err := readFileLimited(path)
		if err != nil {
			return nil, apierror.Invalid(flagName, "%v", err)
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, apierror.Invalid(flagName, "stdin: %v", err)
	}
	if len(b) > maxInput {
		return nil, apierror.Invalid(flagName, "larger than %d bytes", maxInput)
	}
	return b, nil
}

// command describes one gRPC command for runCommand.
type command struct {
	name     string                                          // "client create"
	synopsis string                                          // arguments and flags, for the usage line
	args     []string                                        // names of the positional arguments
	optional int                                             // how many of the last args may be left out ("")
	flags    func(fs *flag.FlagSet)                          // registers the command's own flags
	check    func(pos []string, given map[string]bool) error // validates input before connecting (optional)
	run      func(s *session, p printer, pos []string, given map[string]bool) error
}

// runCommand parses args for cmd, validates them, connects and runs it.
func (e *env) runCommand(ctx context.Context, args []string, cmd command) error {
	var c common
	fs := e.newFlagSet(cmd.name, cmd.synopsis)
	c.register(fs, adminTimeout)
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	pos, given, err := e.parse(fs, args)
	if err != nil {
		return err
	}
	if n := len(cmd.args) - len(pos); n > 0 && n <= cmd.optional {
		pos = append(pos, make([]string, n)...)
	}
	if err := positional(pos, cmd.args...); err != nil {
		return err
	}
	if cmd.check != nil {
		if err := cmd.check(pos, given); err != nil {
			return err
		}
	}
	s, err := e.connect(ctx, &c)
	if err != nil {
		return err
	}
	defer s.close()
	return cmd.run(s, e.printer(&c), pos, given)
}
