package clients

import (
	"slices"
	"testing"
	"time"
)

// TestClientsDeletedReportsEveryWayAClientGoes: a delete event, a tenant's deletion and a snapshot without
// the client each report it once, after Get stopped returning it; updates report nothing.
func TestClientsDeletedReportsEveryWayAClientGoes(t *testing.T) {
	var got []string
	var c *Cache
	c = NewCache(Config{ClientsDeleted: func(deleted []*Client) {
		for _, cl := range deleted {
			if _, ok := c.Get(cl.ID); ok {
				t.Errorf("%s reported while Get still returns it", cl.ID)
			}
			got = append(got, cl.TenantID+"/"+cl.ID)
		}
	}})
	put := func(id, tenant string, lifetime time.Duration) {
		c.apply(id, &Client{ID: id, TenantID: tenant, AccessTokenLifetime: lifetime})
	}
	put("a", "t1", time.Hour)
	put("b", "t1", 2*time.Hour)
	put("c", "t2", time.Minute)
	put("d", "t2", time.Minute)
	put("a", "t1", 3*time.Hour) // an update
	if d := c.MaxAccessTokenLifetime(); d != 3*time.Hour {
		t.Fatalf("MaxAccessTokenLifetime %v", d)
	}
	c.apply("a", nil)
	c.apply("a", nil) // already gone: nothing
	c.deleteTenantClients("t1")
	c.replace(map[string]*Client{"d": {ID: "d", TenantID: "t2"}}, nil)
	slices.Sort(got)
	if want := []string{"t1/a", "t1/b", "t2/c"}; !slices.Equal(got, want) {
		t.Fatalf("reported %v, want %v", got, want)
	}
}
