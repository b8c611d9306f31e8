package memstore_test

import (
	"sync"
	"testing"

	"github.com/authsuite/authsuite/services/token/store"
	"github.com/authsuite/authsuite/services/token/store/memstore"
	"github.com/authsuite/authsuite/services/token/store/storetest"
)

// TestConformance runs the whole conformance suite. A memory store lives only as long as the process, so
// the opener keeps one store per path and reopening a path opens a new handle over that store's data.
func TestConformance(t *testing.T) {
	var mu sync.Mutex
	stores := map[string]*memstore.Store{}
	storetest.Run(t, func(t *testing.T, path string) store.Store {
		mu.Lock()
		defer mu.Unlock()
		s, ok := stores[path]
		if !ok {
			s = memstore.New()
			stores[path] = s
		}
		h := s.Reopen()
		t.Cleanup(func() { h.Close() })
		return h
	})
}
