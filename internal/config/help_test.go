package config

import (
	"bytes"
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var roles = []Role{RoleAll, RoleToken, RoleRegistry, RoleProvider, RoleGateway}

// Every flag any role registers appears in that role's help with its variable and default, and so does every
// environment-only setting.
func TestUsageListsEveryFlagAndEnvOnlySetting(t *testing.T) {
	for _, role := range roles {
		help := Usage(role)
		newFlagSet(role, &Config{}).VisitAll(func(f *flag.Flag) {
			line := "--" + f.Name + "  " + EnvName(f.Name) + "  (default "
			if !strings.Contains(help, line) {
				t.Errorf("%q help lacks %q:\n%s", role, line, help)
			}
		})
		for _, e := range EnvOnly {
			if !strings.Contains(help, "\n  "+e.Name+"\n") {
				t.Errorf("%q help lacks the environment-only %s", role, e.Name)
			}
		}
	}
}

// -h and --help write the usage to the given writer and return ErrHelp, whatever else is on the line.
func TestHelpFlag(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"--data-dir", "x", "-help"}} {
		var out bytes.Buffer
		_, err := Load(RoleGateway, args, nil, &out)
		if !errors.Is(err, ErrHelp) || out.String() != Usage(RoleGateway) {
			t.Errorf("Load(%v) = %v, wrote %d bytes; want ErrHelp and the usage", args, err, out.Len())
		}
	}
	var out bytes.Buffer
	if _, err := Load(RoleAll, []string{"--no-such-flag"}, nil, &out); err == nil || errors.Is(err, ErrHelp) || out.Len() != 0 ||
		!strings.Contains(err.Error(), "no-such-flag") || !strings.Contains(err.Error(), "-h") {
		t.Errorf("unknown flag: %v, wrote %q; want an error naming it and pointing at -h, nothing written", err, out.String())
	}
}

// Load reads exactly the environment-only settings of EnvOnly: every AUTHSUITE_ name it reads from the
// environment map is listed (the Go runtime's GOGC is read by the command).
func TestEnvOnlyIsComplete(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(".", "config.go"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, e := range EnvOnly {
		listed[e.Name] = true
	}
	read := regexp.MustCompile(`envMap\["(AUTHSUITE_[A-Z_]+)"\]`).FindAllStringSubmatch(string(src), -1)
	if len(read) == 0 {
		t.Fatal("found no environment reads in config.go")
	}
	for _, m := range read {
		if !listed[m[1]] {
			t.Errorf("Load reads %s from the environment, but EnvOnly (and so the help) does not list it", m[1])
		}
	}
}

func TestAdminAddr(t *testing.T) {
	key := []string{"AUTHSUITE_MASTER_KEY=k"}
	for _, tt := range []struct {
		role      Role
		args, env []string
		http      string
		admin     string
	}{
		// An ephemeral REST port makes the default admin port ephemeral, on loopback.
		{RoleAll, []string{"--http-addr", "127.0.0.1:0"}, nil, "127.0.0.1:0", "127.0.0.1:0"},
		{RoleGateway, []string{"--http-addr", "0.0.0.0:0"}, key, "0.0.0.0:0", "127.0.0.1:0"},
		{RoleAll, []string{"--http-addr", "[::1]:0"}, nil, "[::1]:0", "[::1]:0"},
		// A fixed REST port keeps the fixed default; a given admin address wins.
		{RoleAll, []string{"--http-addr", "0.0.0.0:80"}, nil, "0.0.0.0:80", "127.0.0.1:8084"},
		{RoleAll, []string{"--http-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:9"}, nil, "127.0.0.1:0", "127.0.0.1:9"},
		{RoleAll, nil, []string{"AUTHSUITE_ADMIN_ADDR=0.0.0.0:7"}, "127.0.0.1:8080", "0.0.0.0:7"},
		// A service role: --http-addr is the former name of its admin listener.
		{RoleToken, []string{"--http-addr", "0.0.0.0:8081"}, key, "", "0.0.0.0:8081"},
		{RoleRegistry, nil, append([]string{"AUTHSUITE_HTTP_ADDR=127.0.0.1:5"}, key...), "", "127.0.0.1:5"},
		{RoleProvider, []string{"--admin-addr", "0.0.0.0:1", "--http-addr", "0.0.0.0:1"}, key, "", "0.0.0.0:1"},
	} {
		c, err := Load(tt.role, tt.args, tt.env, nil)
		if err != nil || c.HTTPAddr != tt.http || c.AdminAddr != tt.admin {
			t.Errorf("Load(%q, %v, %v): http %q admin %q, %v; want %q and %q", tt.role, tt.args, tt.env, c.HTTPAddr, c.AdminAddr, err, tt.http, tt.admin)
		}
	}
	for _, tt := range []struct {
		role Role
		args []string
		want string
	}{
		{RoleAll, []string{"--admin-addr", "nope"}, "AUTHSUITE_ADMIN_ADDR"},
		{RoleAll, []string{"--admin-addr", "127.0.0.1:8080"}, "--admin-addr"},
		{RoleToken, []string{"--admin-addr", "0.0.0.0:1", "--http-addr", "0.0.0.0:2"}, "--http-addr"},
		{RoleToken, []string{"--http-addr", ":"}, "--admin-addr"},
	} {
		if _, err := Load(tt.role, tt.args, key, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%q, %v) = %v; want an error naming %s", tt.role, tt.args, err, tt.want)
		}
	}
}

// FuzzListenAddrs: whatever --http-addr and --admin-addr say, Load never panics, and what it accepts has the
// admin listener on a host:port with a port, never equal to a fixed REST address, and an ephemeral admin
// port exactly when asked for or implied by an ephemeral REST port.
func FuzzListenAddrs(f *testing.F) {
	f.Add(uint8(0), "127.0.0.1:0", "", false)
	f.Add(uint8(0), "127.0.0.1:8080", "127.0.0.1:8080", true)
	f.Add(uint8(1), ":0", "", false)
	f.Add(uint8(4), "[::1]:0", "[::1]:1", true)
	f.Add(uint8(2), "0.0.0.0:8081", "0.0.0.0:8082", true)
	f.Fuzz(func(t *testing.T, r uint8, httpAddr, adminAddr string, giveAdmin bool) {
		role := roles[int(r)%len(roles)]
		args := []string{"--http-addr", httpAddr}
		if giveAdmin {
			args = append(args, "--admin-addr", adminAddr)
		}
		c, err := Load(role, args, []string{"AUTHSUITE_MASTER_KEY=k"}, nil)
		if err != nil {
			return
		}
		host, port, err := net.SplitHostPort(c.AdminAddr)
		if err != nil || port == "" {
			t.Fatalf("accepted admin address %q: %v", c.AdminAddr, err)
		}
		if !role.Runs(RoleGateway) {
			if c.HTTPAddr != "" || (giveAdmin && c.AdminAddr != adminAddr) || (!giveAdmin && c.AdminAddr != httpAddr) {
				t.Fatalf("%s role: http %q admin %q from %v", role, c.HTTPAddr, c.AdminAddr, args)
			}
			return
		}
		if c.HTTPAddr != httpAddr {
			t.Fatalf("http %q, given %q", c.HTTPAddr, httpAddr)
		}
		if c.AdminAddr == c.HTTPAddr && port != "0" {
			t.Fatalf("admin listener on the REST address %q", c.AdminAddr)
		}
		_, httpPort, _ := net.SplitHostPort(httpAddr)
		switch {
		case giveAdmin && c.AdminAddr != adminAddr:
			t.Fatalf("given admin %q, got %q", adminAddr, c.AdminAddr)
		case !giveAdmin && httpPort == "0" && (port != "0" || !net.ParseIP(host).IsLoopback()):
			t.Fatalf("ephemeral REST port %q but admin %q", httpAddr, c.AdminAddr)
		case !giveAdmin && httpPort != "0" && c.AdminAddr != defaultAddrs[role].admin:
			t.Fatalf("fixed REST port %q but admin %q", httpAddr, c.AdminAddr)
		}
	})
}
