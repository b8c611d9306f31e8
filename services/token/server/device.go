package server

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/clients"
)

// deviceService implements DeviceService, the device authorization grant (RFC 8628).
type deviceService struct {
	tokenv1.UnimplementedDeviceServiceServer
	s *Server
}

// finishDevice completes the approval of a device authorization (RFC 8628 §3.3) for cl.
func (s *Server) finishDevice(ctx context.Context, cl *clients.Client, in *token.Interaction, sess *token.Session) (*tokenv1.Step, error) {
	return nil, status.Error(codes.Unimplemented, "device authorization is not available yet")
}
