package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNoSudo(t *testing.T) {
	called := false
	h := noSudo(func(w http.ResponseWriter, r *http.Request) { called = true })
	for _, tc := range []struct {
		name    string
		target  string
		header  string
		value   string
		refused bool
	}{
		{"none", "/connect/userinfo", "", "", false},
		{"empty query", "/connect/userinfo?sudo=", "", "", false},
		{"query", "/connect/userinfo?sudo=loginName:alice&tenantCode=acme", "", "", true},
		{"text header", "/connect/token", sudoHeader, "uid:1", true},
		{"binary header", "/connect/token", sudoBinHeader, "dWlkOjE=", true},
		{"tenant alone", "/connect/token?tenantCode=acme", "", "", false},
	} {
		called = false
		r := httptest.NewRequest(http.MethodGet, tc.target, nil)
		if tc.header != "" {
			r.Header.Set(tc.header, tc.value)
		}
		w := httptest.NewRecorder()
		h(w, r)
		if called == tc.refused {
			t.Errorf("%s: handler called %t, refused %t", tc.name, called, tc.refused)
			continue
		}
		if !tc.refused {
			continue
		}
		var body struct {
			Error            string `json:"error"`
			ErrorDescription string `json:"error_description"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 400 || body.Error != "invalid_request" || body.ErrorDescription != "sudo is not accepted here" {
			t.Errorf("%s: %d %s (%v)", tc.name, w.Code, w.Body, err)
		}
	}
}

// TestFormSudoRefused: a sudo parameter in a form body is refused like one in the query, not ignored.
func TestFormSudoRefused(t *testing.T) {
	for _, body := range []string{"grant_type=client_credentials&sudo=loginName:alice", "token=x&sudo=uid:1"} {
		r := httptest.NewRequest(http.MethodPost, "/connect/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if _, err := ParseForm(r); err != errSudoRefused {
			t.Errorf("%q: %v, want the sudo refusal", body, err)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/connect/token", strings.NewReader("grant_type=client_credentials&sudo="))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := ParseForm(r); err != nil {
		t.Errorf("empty sudo: %v", err)
	}
}
