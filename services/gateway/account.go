package gateway

import "google.golang.org/grpc"

// registerAccount registers the account page (/account).
func (g *Gateway) registerAccount(cc grpc.ClientConnInterface) error {
	_ = cc
	return nil
}
