package server

import (
	"sort"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/services/provider"
)

// Conversions between domain values and generated types: the only place that knows both.

// loadErrorStatus renders a rejected load: INVALID_ARGUMENT (FAILED_PRECONDITION when every problem is a
// provider in use) whose message lists every problem, with one BadRequest field violation per problem. The
// REST gateway shows the message as error_description, so REST callers see every offending entry too.
func loadErrorStatus(e *provider.LoadError) error {
	code, reason := codes.InvalidArgument, "invalid_argument"
	if e.InUse {
		code, reason = codes.FailedPrecondition, "failed_precondition"
	}
	field := "oauthConfigurations"
	if len(e.Problems) == 1 {
		field = e.Problems[0].Field()
	}
	br := &errdetails.BadRequest{}
	for _, p := range e.Problems {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: p.Field(), Description: p.String()})
	}
	st := status.New(code, e.Error())
	if ds, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: apistatus.Domain, Metadata: map[string]string{"field": field}}, br); err == nil {
		return ds.Err()
	}
	return st.Err()
}

func (s *Server) toProto(p provider.Provider) *providerv1.OAuthProvider {
	settings, _ := structpb.NewStruct(p.Settings.Raw)
	if settings == nil {
		settings = &structpb.Struct{Fields: map[string]*structpb.Value{}}
	}
	var names []string
	for _, h := range p.Settings.ValidateHeaders {
		names = append(names, h.Name)
	}
	sort.Strings(names)
	e := s.catalog[p.Type]
	_, resolveErr := e.Resolve(p, provider.Connector{Subdomain: "x", ResourceURL: "x"})
	return &providerv1.OAuthProvider{
		ConnectorType:       p.Type,
		OauthProvider:       p.Name,
		Settings:            settings,
		ValidateHeaderNames: nonNil(names),
		PlaceholderKeys:     nonNil(p.Settings.Placeholders),
		OauthVersion:        e.OAuthVersion,
		Connectable:         resolveErr == nil,
		ConnectorCount:      int32(p.Connectors),
		UpdateTime:          timestamppb.New(p.UpdateTime),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func connectorToProto(c provider.Connector) *providerv1.Connector {
	out := &providerv1.Connector{
		ConnectorId:   c.ID,
		ConnectorType: c.Provider.Type,
		OauthProvider: c.Provider.Name,
		Kind:          string(c.Kind),
		Status:        string(c.Status),
		Owner:         c.Owner,
		TenantId:      c.TenantID,
		Scopes:        nonNil(c.Scopes),
		CreateTime:    timestamppb.New(c.CreateTime),
		UpdateTime:    timestamppb.New(c.UpdateTime),
	}
	if c.ReturnTo != "" {
		out.ReturnTo = &c.ReturnTo
	}
	if c.Failure != "" {
		out.Failure = &c.Failure
	}
	if c.Subdomain != "" {
		out.Subdomain = &c.Subdomain
	}
	if c.ResourceURL != "" {
		out.ResourceUrl = &c.ResourceURL
	}
	if c.Status == provider.StatusPending {
		out.ExpireTime = timestamppb.New(c.CreateTime.Add(provider.PendingTTL))
	}
	return out
}

func connectorsToProto(cs []provider.Connector) []*providerv1.Connector {
	out := make([]*providerv1.Connector, 0, len(cs))
	for _, c := range cs {
		out = append(out, connectorToProto(c))
	}
	return out
}

func scopeList(scope string) []string {
	return strings.FieldsFunc(scope, func(r rune) bool { return r == ' ' || r == ',' })
}
