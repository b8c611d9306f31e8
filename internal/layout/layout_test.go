package layout

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/authsuite/authsuite/"

// deps lists every package of the module with its transitive dependencies, as go list sees them.
func deps(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, module+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		m[strings.TrimPrefix(f[0], module)] = f[1:]
	}
	if len(m) < 20 {
		t.Fatalf("go list found only %d packages", len(m))
	}
	return m
}

// service returns the service a package belongs to ("registry" for services/registry/server), or "".
func service(pkg string) string {
	rest, ok := strings.CutPrefix(pkg, "services/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// domainOrStore reports whether pkg is a service's domain or one of its storage layers that must not know the
// wire format: the generated gRPC types stay at the server edge. Every service has the same shape
// (services/<name> for the domain, bboltstore, memstore and storetest beside it). etcdstore is the one
// exception: the etcd client speaks gRPC to etcd, but it too stays free of the suite's generated types.
func domainOrStore(pkg string) bool {
	name := service(pkg)
	if name == "" || name == "gateway" {
		return false
	}
	switch strings.TrimPrefix(pkg, "services/"+name) {
	case "", "/bboltstore", "/memstore", "/storetest":
		return true
	}
	return false
}

// TestDomainIsFreeOfGRPC: a service's domain and storage layers depend on no RPC framework, even through a
// shared package: gRPC, its status types and the generated code are the server edge's business, so a store or
// a domain rule can be reused (and tested) without them.
func TestDomainIsFreeOfGRPC(t *testing.T) {
	checked := 0
	for pkg, ds := range deps(t) {
		if !domainOrStore(pkg) {
			continue
		}
		checked++
		var bad []string
		for _, d := range ds {
			if rpcFramework(d) {
				bad = append(bad, d)
			}
		}
		if len(bad) > 0 {
			t.Errorf("%s depends on %d gRPC packages (go list -deps), e.g. %s: domain and store packages stay free of gRPC (map errors with internal/apistatus at the server edge)", pkg, len(bad), bad[0])
		}
	}
	if checked < 12 {
		t.Fatalf("only %d domain and store packages found: the layout changed, update domainOrStore", checked)
	}
}

// rpcFramework reports whether an import path is gRPC or the Google RPC types that come with it.
func rpcFramework(path string) bool {
	for _, p := range []string{"google.golang.org/grpc", "google.golang.org/genproto/googleapis/rpc", "github.com/grpc-ecosystem/"} {
		if path == p || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") {
			return true
		}
	}
	return false
}

// assemblers may import the services: they build the binary, the operator commands and offline tools.
var assemblers = map[string]bool{"internal/app": true, "internal/cli": true, "internal/rekey": true, "internal/migrate": true}

func TestDependenciesPointOneWay(t *testing.T) {
	for pkg, ds := range deps(t) {
		for _, d := range ds {
			dep, ok := strings.CutPrefix(d, module)
			if !ok {
				continue
			}
			if s, ds := service(pkg), service(dep); s != "" && ds != "" && s != ds {
				t.Errorf("%s imports %s: a service reaches another only over gRPC", pkg, dep)
			}
			if domainOrStore(pkg) && strings.HasPrefix(dep, "gen/") {
				t.Errorf("%s imports %s: generated types stay at the server edge", pkg, dep)
			}
			if domainOrStore(pkg) && d == "github.com/authsuite/authsuite/internal/apistatus" {
				t.Errorf("%s imports %s: the gRPC mapping of errors belongs to the server edge", pkg, dep)
			}
			if strings.HasPrefix(pkg, "internal/") && !assemblers[pkg] && !strings.HasPrefix(pkg, "internal/cmd/") && service(dep) != "" {
				t.Errorf("%s imports %s: shared packages import no service", pkg, dep)
			}
		}
	}
}
