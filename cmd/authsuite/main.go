// Command authsuite runs the authsuite OAuth 2.0 / OpenID Connect server. `authsuite serve` runs every
// service and the REST gateway in one process.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/authsuite/authsuite/internal/app"
	"github.com/authsuite/authsuite/internal/cli"
	"github.com/authsuite/authsuite/internal/config"
	"github.com/authsuite/authsuite/internal/internalauth"
	"github.com/authsuite/authsuite/internal/suitekey"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "authsuite:", err)
		os.Exit(cli.ExitCode(err))
	}
}

const usage = `usage: authsuite <command> [flags]

commands:
  serve [token|registry|provider|gateway]
           run every service and the REST gateway in one process, or one role per process; state in
           --data-dir (bbolt, the default) or, with --store etcd --etcd-endpoints URL,…, in an etcd cluster
           that any number of replicas of every role share
  healthcheck URL
           exit 0 when URL (e.g. http://127.0.0.1:8080/readyz) answers 200 (for container health checks)
  gateway-credential
           print the credential a separate gateway role needs (AUTHSUITE_GATEWAY_CREDENTIAL), derived
           from AUTHSUITE_MASTER_KEY; it opens the services' browser-facing calls only
  version  print the version
  help     this text, with the operator commands (tenant, client, secret, user, provider, backup, restore,
           rekey) and their exit codes

Run "authsuite serve -h" for the flags, each with its AUTHSUITE_* environment variable, and the settings
read from the environment only (master key, bootstrap secret and password, gateway credential).
`

func run(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], env, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, args[1:])
	case "gateway-credential":
		return printGatewayCredential(env, stdout)
	case "version":
		fmt.Fprintln(stdout, "authsuite", version)
		return nil
	case "tenant", "client", "secret", "user", "provider", "backup", "restore", "rekey":
		return cli.Run(ctx, args, env, cli.IO{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr})
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage, "\n", cli.Usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

var version = "dev"

// serve runs `authsuite serve [role] [flags]`; -h or --help prints every flag and environment-only setting
// to stdout and exits 0.
func serve(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	role := config.RoleAll
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		r, err := config.ParseRole(args[0])
		if err != nil {
			return err
		}
		role, args = r, args[1:]
	}
	cfg, err := config.Load(role, args, env, stdout)
	if errors.Is(err, config.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	if !hasEnv(env, "GOGC") {
		// The live heap of a role is tens of megabytes: collecting at 400% instead of 100% spends a fifth
		// less CPU on the token paths (measured) for a few hundred megabytes at most.
		debug.SetGCPercent(400)
	}
	suite, err := app.Start(ctx, cfg, log, stderr)
	if err != nil {
		return err
	}
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-suite.Errors():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := suite.Shutdown(shutdownCtx); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// healthcheck GETs a readiness URL: the container health check of images that have no shell or curl.
func healthcheck(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: authsuite healthcheck URL")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", args[0], resp.Status)
	}
	return nil
}

// printGatewayCredential prints the gateway credential derived from AUTHSUITE_MASTER_KEY, for a gateway
// role that must not hold the master key (docker-compose.yml, scripts/stack.sh).
func printGatewayCredential(env []string, stdout io.Writer) error {
	key := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "AUTHSUITE_MASTER_KEY="); ok {
			key = v
		}
	}
	if key == "" {
		return fmt.Errorf("gateway-credential: set AUTHSUITE_MASTER_KEY to the suite's master key")
	}
	kr, err := suitekey.Parse(key)
	if err != nil {
		return fmt.Errorf("AUTHSUITE_MASTER_KEY: %w", err)
	}
	fmt.Fprintln(stdout, internalauth.GatewayCredential(kr))
	return nil
}

func hasEnv(env []string, name string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}
