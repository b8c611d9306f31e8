package gateway

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestErrorPageUnwrapsFormErrors: a form error wrapped on its way up is still shown as the 400 invalid_request
// it is, not as an internal error.
func TestErrorPageUnwrapsFormErrors(t *testing.T) {
	g := &Gateway{log: slog.New(slog.DiscardHandler)}
	for _, err := range []error{invalidRequest("bad form"), fmt.Errorf("authorize: %w", invalidRequest("bad form"))} {
		w := httptest.NewRecorder()
		g.errorPage(w, err)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "invalid_request") || !strings.Contains(w.Body.String(), "bad form") {
			t.Errorf("errorPage(%v) = %d %s", err, w.Code, w.Body.String())
		}
	}
}
