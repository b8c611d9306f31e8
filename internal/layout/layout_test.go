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

// domainOrStore reports whether pkg is a service's domain or storage layer, which must not know the wire
// format: the generated gRPC types stay at the server edge (and the token service's client view, which is fed
// by the registry's stream).
func domainOrStore(pkg string) bool {
	switch {
	case pkg == "services/registry" || pkg == "services/provider",
		strings.HasPrefix(pkg, "services/registry/bboltstore"), strings.HasPrefix(pkg, "services/registry/storetest"),
		strings.HasPrefix(pkg, "services/provider/bboltstore"), strings.HasPrefix(pkg, "services/provider/storetest"),
		strings.HasPrefix(pkg, "services/token/store"):
		return true
	}
	return false
}

// assemblers may import the services: they build the binary, the operator commands and offline tools.
var assemblers = map[string]bool{"internal/app": true, "internal/cli": true, "internal/rekey": true}

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
			if strings.HasPrefix(pkg, "internal/") && !assemblers[pkg] && !strings.HasPrefix(pkg, "internal/cmd/") && service(dep) != "" {
				t.Errorf("%s imports %s: shared packages import no service", pkg, dep)
			}
		}
	}
}
