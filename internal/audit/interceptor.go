package audit

import (
	"context"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/authsuite/authsuite/internal/access"
)

// action is how a write method of an admin API is recorded.
type action struct {
	service, event, kind string
}

// actions are the audited write methods, by full gRPC method name. Reads are not recorded, nor methods whose
// service records its own event (SessionService.EndSsoSession: session_ended, by the token service).
var actions = map[string]action{
	"/authsuite.registry.v1.TenantService/CreateTenant":                     {"registry", "tenant_created", "tenant"},
	"/authsuite.registry.v1.TenantService/UpdateTenant":                     {"registry", "tenant_updated", "tenant"},
	"/authsuite.registry.v1.TenantService/DeleteTenant":                     {"registry", "tenant_deleted", "tenant"},
	"/authsuite.registry.v1.ClientService/CreateClient":                     {"registry", "client_created", "client"},
	"/authsuite.registry.v1.ClientService/UpdateClient":                     {"registry", "client_updated", "client"},
	"/authsuite.registry.v1.ClientService/DeleteClient":                     {"registry", "client_deleted", "client"},
	"/authsuite.registry.v1.ClientService/CreateClientSecret":               {"registry", "secret_created", "secret"},
	"/authsuite.registry.v1.ClientService/DeleteClientSecret":               {"registry", "secret_deleted", "secret"},
	"/authsuite.registry.v1.ClientService/ExpireClientSecret":               {"registry", "secret_expired", "secret"},
	"/authsuite.registry.v1.UserService/CreateUser":                         {"registry", "user_created", "user"},
	"/authsuite.registry.v1.UserService/UpdateUser":                         {"registry", "user_updated", "user"},
	"/authsuite.registry.v1.UserService/DeleteUser":                         {"registry", "user_deleted", "user"},
	"/authsuite.registry.v1.ApiResourceService/CreateApiResource":           {"registry", "resource_created", "resource"},
	"/authsuite.registry.v1.ApiResourceService/UpdateApiResource":           {"registry", "resource_updated", "resource"},
	"/authsuite.registry.v1.ApiResourceService/DeleteApiResource":           {"registry", "resource_deleted", "resource"},
	"/authsuite.registry.v1.UserService/ResetUserFactors":                   {"registry", "user_factors_reset", "user"},
	"/authsuite.registry.v1.IdentityProviderService/CreateIdentityProvider": {"registry", "identity_provider_created", "identity_provider"},
	"/authsuite.registry.v1.IdentityProviderService/UpdateIdentityProvider": {"registry", "identity_provider_updated", "identity_provider"},
	"/authsuite.registry.v1.IdentityProviderService/DeleteIdentityProvider": {"registry", "identity_provider_deleted", "identity_provider"},
	// Sign-in security events, called by the token service (internal credential, no admin actor).
	"/authsuite.registry.v1.FactorInternalService/ConfirmTotpEnrollment":    {"registry", "totp_enrolled", "user"},
	"/authsuite.registry.v1.FactorInternalService/DeleteTotp":               {"registry", "totp_removed", "user"},
	"/authsuite.registry.v1.FactorInternalService/VerifySecondFactorCode":   {"registry", "second_factor_verified", "user"},
	"/authsuite.registry.v1.FactorInternalService/RegenerateRecoveryCodes":  {"registry", "recovery_codes_regenerated", "user"},
	"/authsuite.registry.v1.FactorInternalService/AddPasskey":               {"registry", "passkey_added", "user"},
	"/authsuite.registry.v1.FactorInternalService/DeletePasskey":            {"registry", "passkey_removed", "user"},
	"/authsuite.registry.v1.FactorInternalService/ChangePassword":           {"registry", "password_changed", "user"},
	"/authsuite.registry.v1.FactorInternalService/ResetPassword":            {"registry", "password_reset", "user"},
	"/authsuite.registry.v1.FactorInternalService/MarkEmailVerified":        {"registry", "email_verified", "user"},
	"/authsuite.registry.v1.FactorInternalService/RegisterUser":             {"registry", "user_registered", "user"},
	"/authsuite.registry.v1.FactorInternalService/LinkFederatedIdentity":    {"registry", "identity_linked", "user"},
	"/authsuite.token.v1.SigningKeyService/RotateSigningKey":                {"token", "keys_rotated", "key"},
	"/authsuite.provider.v1.ProviderConfigService/LoadOAuthConfiguration":   {"provider", "provider_config_loaded", "provider"},
	"/authsuite.provider.v1.ProviderConfigService/DeleteOAuthConfiguration": {"provider", "provider_config_deleted", "provider"},
	"/authsuite.provider.v1.ProviderConfigService/DeleteOAuthTokens":        {"provider", "provider_tokens_deleted", "provider"},
	"/authsuite.provider.v1.ConnectorService/CreateConnector":               {"provider", "connector_created", "connector"},
	"/authsuite.provider.v1.ConnectorService/DeleteConnector":               {"provider", "connector_deleted", "connector"},
}

// Interceptor records the audited admin actions of the services of a process (actions): after the handler
// returns it records the event with the actor the call's bearer.Resolve noted (NoteActor), the tenant and
// target from the request (or, for a create, the response), and the outcome: success, denied
// (UNAUTHENTICATED, PERMISSION_DENIED) or failure with the gRPC code as reason. It is a grpcserver.Layer;
// Add gives it each service's Recorder (methods of a service without one are not recorded).
type Interceptor struct {
	mu   sync.RWMutex
	recs map[string]*Recorder
}

// NewInterceptor returns an Interceptor with no recorders yet.
func NewInterceptor() *Interceptor { return &Interceptor{recs: map[string]*Recorder{}} }

// Add records the actions of r's service with r.
func (i *Interceptor) Add(r *Recorder) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.recs[r.Service()] = r
}

// UnaryServerInterceptor implements grpcserver.Layer.
func (i *Interceptor) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		a, ok := actions[info.FullMethod]
		if !ok {
			return h(ctx, req)
		}
		i.mu.RLock()
		rec := i.recs[a.service]
		i.mu.RUnlock()
		if rec == nil {
			return h(ctx, req)
		}
		holder := &actorHolder{}
		resp, err := h(context.WithValue(ctx, actorKey{}, holder), req)
		rec.Record(ctx, actionEvent(a, holder, req, resp, err))
		return resp, err
	}
}

// StreamServerInterceptor implements grpcserver.Layer: no streaming method is audited here.
func (i *Interceptor) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return h(srv, ss)
	}
}

func actionEvent(a action, holder *actorHolder, req, resp any, err error) Event {
	e := Event{Event: a.event, Target: Target{Kind: a.kind}, Outcome: OutcomeSuccess}
	p, known := holder.get()
	if known {
		e.Actor = Actor{ClientID: p.Caller.ClientID, UserID: p.UserID()}
	}
	reqMsg, _ := req.(proto.Message)
	respMsg, _ := resp.(proto.Message)
	e.TenantID = firstString(reqMsg, respMsg, "tenant_id")
	e.Target.ID = firstString(reqMsg, respMsg, a.kind+"_id")
	switch a.kind {
	case "provider":
		e.Target.ID = firstString(reqMsg, respMsg, "oauth_provider", "name")
	case "key":
		e.Target.ID = firstString(nil, respMsg, "kid", "key_id")
	case "identity_provider":
		e.Target.ID = firstString(reqMsg, respMsg, "provider_id")
	}
	switch {
	case a.event == "user_updated" && findBool(reqMsg, "disabled"):
		e.Event = "user_disabled" // an update leaving the user disabled
	case a.event == "user_updated" && firstString(reqMsg, nil, "password") != "":
		e.Event = "user_password_set" // only that a password was given, never the password
	case a.event == "second_factor_verified" && firstString(nil, respMsg, "method") == "recovery":
		e.Event = "recovery_code_used"
	case a.event == "identity_linked" && topBool(respMsg, "created"):
		e.Event = "user_created_by_federation"
	case a.event == "identity_linked" && err == nil && !topBool(respMsg, "linked"):
		e.Event = "federated_sign_in" // the link existed
	}
	if e.TenantID == "" && a.service == "provider" && a.kind == "connector" && known {
		e.TenantID = p.TenantID() // connectors belong to their owner's tenant
	}
	if known && e.TenantID != "" && p.TenantID() != e.TenantID {
		e.Actor.ActingFor = p.TenantID()
	}
	if err != nil {
		code := status.Code(err)
		e.Outcome, e.Reason = OutcomeFailure, code.String()
		if code == codes.PermissionDenied || code == codes.Unauthenticated {
			e.Outcome = OutcomeDenied
		}
	}
	return e
}

// firstString is the first non-empty string field named one of names in req, then in resp, searching
// top-level fields and those of directly nested messages.
func firstString(req, resp proto.Message, names ...string) string {
	for _, m := range []proto.Message{req, resp} {
		if m == nil {
			continue
		}
		for _, n := range names {
			if v := findString(m.ProtoReflect(), protoreflect.Name(n), 1); v != "" {
				return v
			}
		}
	}
	return ""
}

func findString(m protoreflect.Message, name protoreflect.Name, depth int) string {
	if !m.IsValid() {
		return ""
	}
	fields := m.Descriptor().Fields()
	if f := fields.ByName(name); f != nil && f.Kind() == protoreflect.StringKind && f.Cardinality() != protoreflect.Repeated {
		if v := m.Get(f).String(); v != "" {
			return v
		}
	}
	if depth == 0 {
		return ""
	}
	for j := range fields.Len() {
		f := fields.Get(j)
		if f.Kind() == protoreflect.MessageKind && f.Cardinality() != protoreflect.Repeated && !f.IsMap() && m.Has(f) &&
			!strings.HasPrefix(string(f.Message().FullName()), "google.protobuf.") {
			if v := findString(m.Get(f).Message(), name, depth-1); v != "" {
				return v
			}
		}
	}
	return ""
}

// topBool reports whether m has the top-level bool field name set to true.
func topBool(m proto.Message, name protoreflect.Name) bool {
	if m == nil || !m.ProtoReflect().IsValid() {
		return false
	}
	f := m.ProtoReflect().Descriptor().Fields().ByName(name)
	return f != nil && f.Kind() == protoreflect.BoolKind && m.ProtoReflect().Get(f).Bool()
}

// findBool reports whether m or a directly nested message has the bool field name set to true.
func findBool(m proto.Message, name protoreflect.Name) bool {
	if m == nil {
		return false
	}
	r := m.ProtoReflect()
	fields := r.Descriptor().Fields()
	for j := range fields.Len() {
		f := fields.Get(j)
		if f.Kind() == protoreflect.MessageKind && f.Cardinality() != protoreflect.Repeated && !f.IsMap() && r.Has(f) {
			if b := f.Message().Fields().ByName(name); b != nil && b.Kind() == protoreflect.BoolKind && r.Get(f).Message().Get(b).Bool() {
				return true
			}
		}
	}
	return false
}

// actorKey holds the *actorHolder of an audited call in its context.
type actorKey struct{}

type actorHolder struct {
	mu    sync.Mutex
	p     access.Principal
	known bool
}

func (h *actorHolder) get() (access.Principal, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.p, h.known
}

// NoteActor tells the Interceptor recording the call of ctx who the caller is (bearer.Resolve calls it with
// every principal it resolves). Outside an audited call it does nothing.
func NoteActor(ctx context.Context, p access.Principal) {
	if h, ok := ctx.Value(actorKey{}).(*actorHolder); ok {
		h.mu.Lock()
		h.p, h.known = p, true
		h.mu.Unlock()
	}
}
