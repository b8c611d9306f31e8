package gateway

import "google.golang.org/grpc"

// registerUpstream registers the upstream identity provider start and callback routes.
func (g *Gateway) registerUpstream(cc grpc.ClientConnInterface) error {
	_ = cc
	return nil
}
