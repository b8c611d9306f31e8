package server

import "context"

// WaitApplied waits until the server follows its store and has applied every change up to rev.
func (s *Server) WaitApplied(ctx context.Context, rev int64) error {
	return s.cache.waitApplied(ctx, rev)
}

// LeaseWaits is how many times the server waited for another holder's refresh.
func (s *Server) LeaseWaits() uint64 { return s.waits.Load() }

// Cached reports whether the server holds a cached grant for connector id.
func (s *Server) Cached(id string) bool { _, ok := s.cache.get(id); return ok }

// Signals is how many connectors the server keeps a change signal for.
func (s *Server) Signals() int {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	return len(s.cache.signals)
}
