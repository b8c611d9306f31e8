package clients

import registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"

// TestingPut inserts (or replaces) a client record in the cache as if the registry had sent it, and marks the
// cache ready. It exists for benchmarks and tests of packages that use the cache without a registry.
func TestingPut(c *Cache, r *registryv1.ClientRecord) error {
	cl, err := fromRecord(r)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.putLocked(cl.ID, cl)
	c.markReadyLocked()
	c.mu.Unlock()
	return nil
}
