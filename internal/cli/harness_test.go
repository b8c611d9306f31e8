package cli_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/app"
	"github.com/authsuite/authsuite/internal/cli"
	"github.com/authsuite/authsuite/internal/config"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files")

const (
	bootstrapSecret = "bootstrap-secret-for-cli-tests-0123456789"
	// The issuer is fixed so that tokens stay valid when a suite restarts on other ports.
	issuer = "http://authsuite.test"
)

// suite is an all-in-one authsuite started in-process on loopback ports.
type suite struct {
	t       testing.TB
	dataDir string
	running *app.Suite
}

func startSuite(t testing.TB) *suite {
	t.Helper()
	s := &suite{t: t, dataDir: t.TempDir()}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *suite) start() {
	s.t.Helper()
	cfg, err := config.Load("", []string{"--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--data-dir", s.dataDir, "--issuer", issuer},
		[]string{"AUTHSUITE_BOOTSTRAP_SECRET=" + bootstrapSecret}, io.Discard)
	if err != nil {
		s.t.Fatal(err)
	}
	running, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		s.t.Fatal(err)
	}
	s.running = running
}

func (s *suite) stop() {
	if s.running == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.running.Shutdown(ctx); err != nil {
		s.t.Errorf("shutdown: %v", err)
	}
	s.running = nil
}

// env is what every command of a test sees: the suite's address and the bootstrap secret.
func (s *suite) env(extra ...string) []string {
	return append([]string{"AUTHSUITE_GRPC_ADDR=" + s.running.GRPCAddr.String(), "AUTHSUITE_BOOTSTRAP_SECRET=" + bootstrapSecret}, extra...)
}

// waitForSecret polls the token service until it accepts the client's secret: it learns of new secrets
// from the registry's change stream, a moment after the registry acknowledged them.
func (s *suite) waitForSecret(t testing.TB, clientID, secret, scope string) {
	t.Helper()
	conn, err := grpc.NewClient(s.running.GRPCAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	oauth := tokenv1.NewOAuthServiceClient(conn)
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := oauth.Token(context.Background(), &tokenv1.TokenRequest{
			Client: &tokenv1.ClientCredentials{ClientId: clientID, ClientSecret: secret}, GrantType: "client_credentials", Scope: scope,
		})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the token service does not accept client %s's new secret: %v", clientID, err)
		}
		<-tick.C
	}
}

// result is what one command did.
type result struct {
	stdout, stderr string
	code           int
	err            string
}

// run runs one command in-process, as `authsuite args…` does.
func run(t testing.TB, env []string, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	err := cli.Run(context.Background(), args, env, cli.IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut})
	r := result{stdout: out.String(), stderr: errOut.String(), code: cli.ExitCode(err)}
	if err != nil {
		r.err = err.Error()
	}
	return r
}

// transcript records commands and their results for a golden file, masking what changes between runs.
type transcript struct {
	t     testing.TB
	s     *suite
	b     strings.Builder
	masks map[string]string // literal → placeholder
	// patterns are masked too: each match's last group (or the whole match) becomes a same-length run of
	// its placeholder character.
	patterns map[*regexp.Regexp]byte
	env      []string
}

func newTranscript(t testing.TB, s *suite) *transcript {
	return &transcript{t: t, s: s, masks: map[string]string{}, patterns: map[*regexp.Regexp]byte{}, env: s.env()}
}

// mask replaces every occurrence of literal in the transcript by a placeholder of the same length (so that
// tables stay aligned) made from name.
func (tr *transcript) mask(literal, name string) {
	if literal != "" {
		tr.masks[literal] = sameLength(name, len(literal))
	}
}

// maskPath replaces a path, whose length varies from run to run, by a fixed placeholder.
func (tr *transcript) maskPath(path, placeholder string) { tr.masks[path] = placeholder }

// maskDisplay masks a secret's valueDisplay (its first three characters) where tables and JSON show it.
func (tr *transcript) maskDisplay(d string) {
	tr.masks[`"valueDisplay": "`+d+`"`] = `"valueDisplay": "<D>"`
	tr.masks["valueDisplay  "+d] = "valueDisplay  <D>"
	tr.masks["  "+d+"  "] = "  <D>  "
}

func sameLength(name string, n int) string {
	if len(name) >= n {
		return name[:n]
	}
	return name + strings.Repeat("_", n-len(name))
}

// run runs a command, records it and returns its result; want is the exit code the test expects.
func (tr *transcript) run(want int, stdin string, args ...string) result {
	tr.t.Helper()
	r := run(tr.t, tr.env, stdin, args...)
	if r.code != want {
		tr.t.Errorf("authsuite %s: exit %d (%s), want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.err, want, r.stdout, r.stderr)
	}
	fmt.Fprintf(&tr.b, "$ authsuite %s\n", strings.Join(args, " "))
	tr.b.WriteString(r.stdout)
	if r.stderr != "" {
		for _, line := range strings.Split(strings.TrimRight(r.stderr, "\n"), "\n") {
			fmt.Fprintf(&tr.b, "stderr: %s\n", line)
		}
	}
	if r.err != "" {
		fmt.Fprintf(&tr.b, "error: authsuite: %s\n", r.err)
	}
	fmt.Fprintf(&tr.b, "exit %d\n\n", r.code)
	return r
}

var timestamps = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z`)

// check compares the masked transcript with testdata/<name>.golden (rewritten with -update).
func (tr *transcript) check(name string) {
	tr.t.Helper()
	got := tr.b.String()
	literals := make([]string, 0, len(tr.masks))
	for l := range tr.masks {
		literals = append(literals, l)
	}
	sort.Slice(literals, func(i, j int) bool { return len(literals[i]) > len(literals[j]) }) // longest first
	for _, l := range literals {
		got = strings.ReplaceAll(got, l, tr.masks[l])
	}
	for re, c := range tr.patterns {
		got = re.ReplaceAllStringFunc(got, func(m string) string {
			sub := re.FindStringSubmatch(m)
			last := sub[len(sub)-1]
			return m[:len(m)-len(last)] + strings.Repeat(string(c), len(last))
		})
	}
	got = timestamps.ReplaceAllStringFunc(got, func(ts string) string {
		if len(ts) == len("2006-01-02T15:04:05Z") {
			return "YYYY-MM-DDThh:mm:ssZ" // the same length: tables stay aligned
		}
		return "YYYY-MM-DDThh:mm:ss.fffZ" // JSON, where the number of digits varies
	})
	got = strings.ReplaceAll(got, tr.s.running.GRPCAddr.String(), "<GRPC_ADDR>")
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			tr.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tr.t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		tr.t.Errorf("%s differs from the output (run go test -update to accept):\n%s", path, diff(string(want), got))
	}
}

// diff shows the first differing lines.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\nwant: %s\ngot:  %s", i+1, wl, gl)
		}
	}
	return ""
}
