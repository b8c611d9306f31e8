package gateway

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI v2 document generated from proto/ (scripts/generate.sh keeps this copy current).
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI serves the REST API's OpenAPI v2 document (GET /openapi.json).
func OpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
}
