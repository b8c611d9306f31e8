package apistatus

import (
	"net/http"

	"google.golang.org/grpc/codes"
)

// codeInfo is what every edge calls a gRPC code.
type codeInfo struct {
	name  string // snake_case, for JSON error codes and metric labels
	label string // words, for people (the CLI)
	http  int    // the HTTP status a REST answer carries
}

// codeTable is the one table of gRPC code names, indexed by code. The HTTP statuses follow the gRPC ↔ HTTP
// mapping of google.rpc.Code, except that RESOURCE_EXHAUSTED is 503: authsuite sheds load with it, which a
// retry can pass (RFC 9110 §15.6.4), it does not count a client's quota.
var codeTable = [...]codeInfo{
	codes.OK:                 {"ok", "ok", http.StatusOK},
	codes.Canceled:           {"canceled", "canceled", 499},
	codes.Unknown:            {"unknown", "unknown", http.StatusInternalServerError},
	codes.InvalidArgument:    {"invalid_argument", "invalid argument", http.StatusBadRequest},
	codes.DeadlineExceeded:   {"deadline_exceeded", "deadline exceeded", http.StatusGatewayTimeout},
	codes.NotFound:           {"not_found", "not found", http.StatusNotFound},
	codes.AlreadyExists:      {"already_exists", "already exists", http.StatusConflict},
	codes.PermissionDenied:   {"permission_denied", "permission denied", http.StatusForbidden},
	codes.ResourceExhausted:  {"resource_exhausted", "overloaded", http.StatusServiceUnavailable},
	codes.FailedPrecondition: {"failed_precondition", "failed precondition", http.StatusBadRequest},
	codes.Aborted:            {"aborted", "aborted", http.StatusConflict},
	codes.OutOfRange:         {"out_of_range", "out of range", http.StatusBadRequest},
	codes.Unimplemented:      {"unimplemented", "not implemented", http.StatusNotImplemented},
	codes.Internal:           {"internal", "internal error", http.StatusInternalServerError},
	codes.Unavailable:        {"unavailable", "unavailable", http.StatusServiceUnavailable},
	codes.DataLoss:           {"data_loss", "data loss", http.StatusInternalServerError},
	codes.Unauthenticated:    {"unauthenticated", "authentication failed", http.StatusUnauthorized},
}

func lookup(c codes.Code) codeInfo {
	if int(c) < len(codeTable) {
		return codeTable[c]
	}
	return codeTable[codes.Unknown]
}

// CodeName is the snake_case name of a gRPC code ("NotFound" → "not_found", "OK" → "ok"); codes outside the
// gRPC set are "unknown". It is what the REST errors and the metrics call a code without an OAuth name.
func CodeName(c codes.Code) string { return lookup(c).name }

// CodeLabel is the words a person reads for a gRPC code ("not found", "already exists", "authentication failed").
func CodeLabel(c codes.Code) string { return lookup(c).label }

// HTTPStatus is the HTTP status of a gRPC code: 400, 401, 403, 404, 409 for the client's errors, 503 for
// UNAVAILABLE and RESOURCE_EXHAUSTED, 500 for INTERNAL, UNKNOWN, DATA_LOSS and codes outside the gRPC set.
func HTTPStatus(c codes.Code) int { return lookup(c).http }
