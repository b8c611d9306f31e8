package audit

import (
	"context"
	"encoding/base64"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	opsv1 "github.com/authsuite/authsuite/gen/authsuite/ops/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
)

// Server is AuditService for the services of one process: it answers from the log of the service a request
// names. A process registers one Server (a gRPC service can be registered once), holding the logs of the
// services it runs.
type Server struct {
	opsv1.UnimplementedAuditServiceServer
	logs         map[string]Log
	authenticate func(context.Context) (access.Principal, error)
}

// NewServer returns the AuditService of logs (by service name). authenticate resolves the caller by the
// suite's rule (bearer.Resolve).
func NewServer(logs map[string]Log, authenticate func(context.Context) (access.Principal, error)) *Server {
	return &Server{logs: logs, authenticate: authenticate}
}

// Register registers the service with r.
func (s *Server) Register(r grpc.ServiceRegistrar) { opsv1.RegisterAuditServiceServer(r, s) }

// ListAuditEvents implements AuditService: an admin of the system tenant sees every tenant's events; an
// admin of another tenant must name their tenant and sees its events only (access.Principal.RequireAdminOf).
func (s *Server) ListAuditEvents(ctx context.Context, req *opsv1.ListAuditEventsRequest) (*opsv1.ListAuditEventsResponse, error) {
	p, err := s.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetTenantId() == "" {
		err = p.RequireSystemAdmin("see the audit events of every tenant; name your tenant as tenantId")
	} else {
		err = p.RequireAdminOf(req.GetTenantId())
	}
	if err != nil {
		return nil, err
	}
	log, ok := s.logs[req.GetService()]
	if !ok {
		return nil, apierror.Invalid("service", "this process keeps the audit events of %s", strings.Join(s.names(), ", "))
	}
	if req.GetPageSize() < 0 {
		return nil, apierror.Invalid("pageSize", "must not be negative")
	}
	before, err := decodePageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	if len(req.GetEvent()) > 64 || len(req.GetTenantId()) > 256 {
		return nil, apierror.Invalid("event", "too long")
	}
	items, next, err := log.List(ctx, Query{TenantID: req.GetTenantId(), Event: req.GetEvent(), Before: before, Limit: int(req.GetPageSize())})
	if err != nil {
		return nil, err
	}
	resp := &opsv1.ListAuditEventsResponse{Items: make([]*opsv1.AuditEvent, 0, len(items)), NextPageToken: encodePageToken(next)}
	for _, e := range items {
		resp.Items = append(resp.Items, ToProto(e))
	}
	return resp, nil
}

func (s *Server) names() []string {
	var out []string
	for _, n := range []string{"token", "registry", "provider"} {
		if _, ok := s.logs[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

// ToProto converts an event to its API form.
func ToProto(e Event) *opsv1.AuditEvent {
	return &opsv1.AuditEvent{
		Id: e.ID, Time: timestamppb.New(e.Time), Service: e.Service, Event: e.Event, TenantId: e.TenantID,
		Actor:   &opsv1.AuditActor{ClientId: e.Actor.ClientID, UserId: e.Actor.UserID, ActingFor: e.Actor.ActingFor},
		Target:  &opsv1.AuditTarget{Kind: e.Target.Kind, Id: e.Target.ID},
		Outcome: e.Outcome, RemoteAddr: e.RemoteAddr, Reason: e.Reason,
	}
}

// The page token is the last ID of the page, base64url with a version tag.
func encodePageToken(id string) string {
	if id == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte("a1:" + id))
}

func decodePageToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) <= 3 || len(b) > 64 || string(b[:3]) != "a1:" {
		return "", apierror.Invalid("pageToken", "not a page token from this listing")
	}
	return string(b[3:]), nil
}
