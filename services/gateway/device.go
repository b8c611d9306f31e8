package gateway

import "google.golang.org/grpc"

// registerDevice registers the device authorization endpoint and the /device page (RFC 8628).
func (g *Gateway) registerDevice(cc grpc.ClientConnInterface) error {
	_ = cc
	return nil
}
