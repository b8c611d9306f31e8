package gateway

import "google.golang.org/grpc"

// registerSelfService registers password reset, e-mail verification and self-registration pages.
func (g *Gateway) registerSelfService(cc grpc.ClientConnInterface) error {
	_ = cc
	return nil
}
