package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// A registered collector is exported on /metrics; a clash with a metric already there is an error and
// registers none of the collectors given with it.
func TestRegister(t *testing.T) {
	m := New("test")
	extra := prometheus.NewCounter(prometheus.CounterOpts{Name: "authsuite_extra_total", Help: "test"})
	extra.Add(3)
	if err := m.Register(extra); err != nil {
		t.Fatal(err)
	}
	other := prometheus.NewCounter(prometheus.CounterOpts{Name: "authsuite_other_total", Help: "test"})
	clash := prometheus.NewCounter(prometheus.CounterOpts{Name: "authsuite_extra_total", Help: "test"})
	if err := m.Register(other, clash); err == nil {
		t.Fatal("a clashing collector was registered")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), "authsuite_extra_total 3") {
		t.Errorf("/metrics lacks the registered counter:\n%s", body)
	}
	if strings.Contains(string(body), "authsuite_other_total") {
		t.Error("a collector of a refused Register call is exported")
	}
}
