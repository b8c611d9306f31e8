package config

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c, err := Load(RoleAll, nil, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:8080" || c.GRPCAddr != "127.0.0.1:9090" || c.DataDir != "./data" ||
		c.SigningAlg != "ES256" || c.KeyRotation != 90*24*time.Hour || c.MasterKeyFile != "data/master.key" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestEnvAndFlagPrecedence(t *testing.T) {
	env := []string{"AUTHSUITE_HTTP_ADDR=127.0.0.1:1", "AUTHSUITE_GRPC_ADDR=127.0.0.1:2", "AUTHSUITE_DATA_DIR=/tmp/x",
		"AUTHSUITE_ISSUER=https://id.example.com/", "AUTHSUITE_BOOTSTRAP_SECRET=s", "AUTHSUITE_MASTER_KEY=k"}
	c, err := Load(RoleAll, []string{"--grpc-addr", "127.0.0.1:3"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:1" || c.GRPCAddr != "127.0.0.1:3" || c.DataDir != "/tmp/x" ||
		c.BootstrapSecret != "s" || c.MasterKey != "k" || c.IssuerFor(nil) != "https://id.example.com" {
		t.Fatalf("got %+v", c)
	}
}

func TestInvalidNamesTheSetting(t *testing.T) {
	tests := []struct {
		args []string
		env  []string
		want string
	}{
		{args: []string{"--http-addr", "nope"}, want: "AUTHSUITE_HTTP_ADDR"},
		{env: []string{"AUTHSUITE_GRPC_ADDR=:"}, want: "--grpc-addr"},
		{args: []string{"--issuer", "ftp://x"}, want: "--issuer"},
		{args: []string{"--issuer", "https://x/?a=b"}, want: "--issuer"},
		{args: []string{"--signing-alg", "HS256"}, want: "--signing-alg"},
		{env: []string{"AUTHSUITE_KEY_ROTATION=banana"}, want: "AUTHSUITE_KEY_ROTATION"},
		{args: []string{"--key-rotation", "1m"}, want: "--key-rotation"},
		{args: []string{"--log-format", "xml"}, want: "--log-format"},
		{args: []string{"--store", "sqlite"}, want: "--store"},
		{env: []string{"AUTHSUITE_STORE=sqlite"}, want: "AUTHSUITE_STORE"},
		{args: []string{"extra"}, want: "extra"},
	}
	for _, tt := range tests {
		_, err := Load(RoleAll, tt.args, tt.env, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%v, %v) = %v; want an error naming %s", tt.args, tt.env, err, tt.want)
		}
	}
}

// TestStoreMemory: --store memory is accepted for the one-process suite, and for one role per process only
// with AUTHSUITE_MASTER_KEY (roles must share the key, and memory has no file to keep a generated one).
func TestStoreMemory(t *testing.T) {
	if c, err := Load(RoleAll, []string{"--store", "memory"}, nil, io.Discard); err != nil || c.Store != StoreMemory {
		t.Fatalf("one process: %+v, %v", c.Store, err)
	}
	if c, err := Load(RoleAll, nil, nil, io.Discard); err != nil || c.Store != StoreBbolt {
		t.Fatalf("default store %q, %v", c.Store, err)
	}
	if _, err := Load(RoleToken, []string{"--store", "memory"}, nil, io.Discard); err == nil || !strings.Contains(err.Error(), "AUTHSUITE_MASTER_KEY") {
		t.Fatalf("token role without a key: %v", err)
	}
	if _, err := Load(RoleToken, []string{"--store", "memory"}, []string{"AUTHSUITE_MASTER_KEY=k"}, io.Discard); err != nil {
		t.Fatalf("token role with a key: %v", err)
	}
}

func TestRoles(t *testing.T) {
	key := []string{"AUTHSUITE_MASTER_KEY=k"}
	for role, want := range map[Role][3]string{
		RoleToken: {"", "127.0.0.1:9091", "127.0.0.1:8081"}, RoleRegistry: {"", "127.0.0.1:9092", "127.0.0.1:8082"},
		RoleProvider: {"", "127.0.0.1:9093", "127.0.0.1:8083"}, RoleGateway: {"127.0.0.1:8080", "", "127.0.0.1:8084"},
		RoleAll: {"127.0.0.1:8080", "127.0.0.1:9090", "127.0.0.1:8084"},
	} {
		c, err := Load(role, nil, key, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		if c.HTTPAddr != want[0] || c.GRPCAddr != want[1] || c.AdminAddr != want[2] || c.TokenAddr != "127.0.0.1:9091" || c.RegistryAddr != "127.0.0.1:9092" {
			t.Errorf("%s defaults: %+v", role, c)
		}
	}
	if _, err := Load(RoleToken, nil, nil, io.Discard); err == nil || !strings.Contains(err.Error(), "AUTHSUITE_MASTER_KEY") {
		t.Errorf("token role without a shared key: %v", err)
	}
	if _, err := Load(RoleGateway, nil, nil, io.Discard); err == nil || !strings.Contains(err.Error(), "AUTHSUITE_GATEWAY_CREDENTIAL") {
		t.Errorf("gateway role without its credential: %v", err)
	}
	if c, err := Load(RoleGateway, nil, []string{"AUTHSUITE_GATEWAY_CREDENTIAL=g"}, io.Discard); err != nil || c.GatewayCredential != "g" || c.MasterKey != "" {
		t.Errorf("the gateway needs its credential, not the master key: %+v, %v", c, err)
	}
	if _, err := ParseRole("db"); err == nil {
		t.Error("ParseRole accepted an unknown role")
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", "c.pem"}, "--tls-cert"},
		{[]string{"--grpc-tls-ca", "ca.pem"}, "--grpc-tls-ca"},
		{[]string{"--grpc-tls-cert", "c.pem", "--grpc-tls-key", "k.pem"}, "--grpc-tls-ca"},
		{[]string{"--registry-addr", "nowhere"}, "--registry-addr"},
	} {
		if _, err := Load(RoleToken, tt.args, key, io.Discard); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(token, %v) = %v; want an error naming %s", tt.args, err, tt.want)
		}
	}
}
