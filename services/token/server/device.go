package server

import tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"

// deviceService implements DeviceService, the device authorization grant (RFC 8628).
type deviceService struct {
	tokenv1.UnimplementedDeviceServiceServer
	s *Server
}
