package gateway

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"

	"github.com/authsuite/authsuite/internal/apierror"
)

// errorBody is the one error shape of the REST API: the OAuth 2.0 error object (RFC 6749 §5.2), with the
// invalid field named for validation failures.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
	Field            string `json:"field,omitempty"`
}

// revokeFailure is the failure shape of GET /api/oauth2/server/tokens/revoke (seed 003 §1.2.3).
type revokeFailure struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

const simpleRevokePath = "/api/oauth2/server/tokens/revoke"

// writeGRPCError renders a backend error: the status the service asked for (OAuth errors carry one) or the
// standard mapping of its gRPC code, and the error object. Unauthenticated bearer calls also get the
// RFC 6750 §3 challenge.
func (g *Gateway) writeGRPCError(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if bodyTooLarge(r) { // the body could not be decoded because it was cut at its limit
		tooLarge(w, g.bodyLimit(r.URL.Path))
		return
	}
	info := apierror.FromStatus(err)
	status := info.HTTPStatus
	if status == 0 {
		status = runtime.HTTPStatusFromCode(info.Code)
		if info.Code == codes.ResourceExhausted {
			status = http.StatusServiceUnavailable // shed load, like UNAVAILABLE
		}
	}
	retryAfter(w.Header(), info)
	if r.URL.Path == simpleRevokePath {
		writeJSON(w, status, revokeFailure{Code: status, Msg: info.Message})
		return
	}
	body := errorBody{Error: info.OAuthCode, ErrorDescription: info.Message, Field: info.Field}
	if body.Error == "" || body.Error == "invalid_argument" {
		body.Error = errorCodeFor(info.Code)
	}
	if info.Code == codes.Unauthenticated && body.Error != apierror.InvalidClient && r.Header.Get("Authorization") != "" {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	} else if info.Code == codes.Unauthenticated && body.Error != apierror.InvalidClient {
		w.Header().Set("WWW-Authenticate", `Bearer realm="authsuite"`)
	}
	if info.Code == codes.Internal || info.Code == codes.Unknown {
		body.ErrorDescription = "internal error"
	}
	writeJSON(w, status, body)
}

// retryAfter sends Retry-After (RFC 9110 §10.2.3) when the service said when a retry may pass (shed load
// answered 503, throttling 429). Every error writer of the gateway calls it, so the header is mapped here only.
func retryAfter(h http.Header, info apierror.Info) {
	if v := apierror.RetryAfterSeconds(info.RetryAfter); v != "" {
		h.Set("Retry-After", v)
	}
}

// errorCodeFor names an error without an OAuth code after its gRPC code, in the OAuth style
// (invalid_request for validation failures).
func errorCodeFor(c codes.Code) string {
	switch c {
	case codes.InvalidArgument, codes.OutOfRange:
		return apierror.InvalidRequest
	case codes.Unauthenticated:
		return apierror.InvalidToken
	case codes.PermissionDenied:
		return apierror.AccessDenied
	case codes.Unavailable:
		return apierror.TemporarilyUnavailable
	case codes.Internal, codes.Unknown, codes.DataLoss:
		return apierror.ServerError
	}
	return apierror.CodeName(c)
}

func routingError(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, _ *http.Request, status int) {
	body := errorBody{Error: "not_found", ErrorDescription: "no such path"}
	if status == http.StatusMethodNotAllowed {
		body = errorBody{Error: "method_not_allowed", ErrorDescription: "method not allowed on this path"}
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
