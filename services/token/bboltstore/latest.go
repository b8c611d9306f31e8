package bboltstore

import "context"

// LatestRevision is Revision: the file has one writer, this store value.
func (s *Store) LatestRevision(context.Context) (int64, error) { return s.Revision(), nil }
