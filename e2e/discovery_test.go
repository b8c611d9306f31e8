package e2e

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestDiscoveryGolden pins the provider metadata document (RFC 8414, OpenID Connect Discovery 1.0): any
// change to what authsuite advertises shows up as a diff against testdata/discovery.golden (-update rewrites).
func TestDiscoveryGolden(t *testing.T) {
	s := startSuite(t)
	r := expect(t, "discovery", s.call("GET", "/.well-known/openid-configuration", "", nil), 200)
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got := []byte(strings.ReplaceAll(string(raw), s.base, "{issuer}") + "\n")
	path := filepath.Join("testdata", "discovery.golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("discovery document changed (run with -update if intended):\n%s", got)
	}
}
