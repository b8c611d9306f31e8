package app

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"google.golang.org/grpc"

	"github.com/authsuite/authsuite/internal/config"
	tokserver "github.com/authsuite/authsuite/services/token/server"
)

// registerAuthz reads the route file of --authz-routes and serves the Envoy authorizer with it on g. A file
// that cannot be read or does not validate fails the start, naming the flag and the route and field at fault.
func registerAuthz(g grpc.ServiceRegistrar, tok *tokserver.Server, path string, log *slog.Logger) error {
	routes, err := loadAuthzRoutes(path)
	if err != nil {
		return fmt.Errorf("--authz-routes (%s): %w", config.EnvName("authz-routes"), err)
	}
	tok.RegisterAuthz(g, routes)
	log.Info("envoy authorizer serving", "routes", routes.Len(), "file", path)
	return nil
}

// loadAuthzRoutes reads and parses a route file, reading no more than tokserver.MaxAuthzRoutesBytes+1 bytes.
func loadAuthzRoutes(path string) (*tokserver.AuthzRoutes, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, tokserver.MaxAuthzRoutesBytes+1))
	if err != nil {
		return nil, err
	}
	routes, err := tokserver.ParseAuthzRoutes(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return routes, nil
}
