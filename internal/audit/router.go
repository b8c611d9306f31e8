package audit

import (
	"context"

	"google.golang.org/grpc"

	opsv1 "github.com/authsuite/authsuite/gen/authsuite/ops/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

// Router is the connection a gateway or console calls AuditService through: each ListAuditEvents goes to
// the connection of the service its request names, so one REST path per service
// (/api/adminapi2/v1/audit/{service}) reaches that service's own log through its own gRPC API.
type Router map[string]grpc.ClientConnInterface

// Invoke implements grpc.ClientConnInterface.
func (r Router) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	req, ok := args.(*opsv1.ListAuditEventsRequest)
	if !ok || method != opsv1.AuditService_ListAuditEvents_FullMethodName {
		return apierror.Invalid("service", "not an audit call")
	}
	conn, ok := r[req.GetService()]
	if !ok || conn == nil {
		return apierror.Invalid("service", "must be token, registry or provider")
	}
	return conn.Invoke(ctx, method, args, reply, opts...)
}

// NewStream implements grpc.ClientConnInterface: AuditService has no streaming method.
func (r Router) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, apierror.Invalid("service", "not an audit call")
}
