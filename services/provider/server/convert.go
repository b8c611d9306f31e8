package server

import (
	"sort"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/provider"
)

// Conversions between domain values and generated types: the only place that knows both.

// loadErrorStatus is a rejected load as a multi-problem domain error: INVALID_ARGUMENT (FAILED_PRECONDITION
// when every problem is a provider in use) whose message lists every problem, with one field violation per
// problem (apistatus maps it). The REST gateway answers the message as error_description and the problems as
// "violations", so REST callers see every offending entry too.
func loadErrorStatus(e *provider.LoadError) error {
	v := &apierror.Violations{Message: e.Error()}
	if len(e.Problems) != 1 {
		v.Field = "oauthConfigurations"
	}
	if e.InUse {
		v.Kind = apierror.ErrFailedPrecondition
	}
	for _, p := range e.Problems {
		v.Fields = append(v.Fields, apierror.FieldError{Field: p.Field(), Reason: p.String()})
	}
	return v
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
