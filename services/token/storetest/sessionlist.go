package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

// sessionListTests check ListSessions: the index follows every write and deletion of a session, pages
// resume exactly where they stopped, and one tenant's listing never shows another's sessions.
var sessionListTests = []struct {
	name string
	fn   func(t *testing.T, open func() token.Store)
}{
	{"ListSessions", testListSessions},
	{"ListSessionsPaging", testListSessionsPaging},
	{"ListSessionsFollowsWrites", testListSessionsFollowsWrites},
	{"ListSessionsRefusesBadQueries", testListSessionsBadQueries},
	{"ListSessionsSurvivesReopen", testListSessionsReopen},
	{"ListSessionsConcurrentWrites", testListSessionsConcurrent},
}

// listed returns the SIDs of every session of q, page by page with the given page size.
func listed(t *testing.T, s token.Store, q token.SessionQuery) []string {
	t.Helper()
	var out []string
	for range 10_000 {
		page, err := s.ListSessions(ctx, q)
		if err != nil {
			t.Fatalf("ListSessions(%+v): %v", q, err)
		}
		if q.Limit > 0 && len(page.Sessions) > q.Limit {
			t.Fatalf("ListSessions(%+v): %d sessions, more than the limit", q, len(page.Sessions))
		}
		for _, se := range page.Sessions {
			if se.TenantID != q.TenantID || (q.UserID != "" && se.UserID != q.UserID) {
				t.Fatalf("ListSessions(%+v) answered %+v", q, se)
			}
			out = append(out, se.SID)
		}
		if page.Next == "" {
			return out
		}
		if page.Next <= q.After {
			t.Fatalf("ListSessions(%+v): next %q does not advance", q, page.Next)
		}
		q.After = page.Next
	}
	t.Fatal("ListSessions does not end")
	return nil
}

func sess(id, tenant, user, sid string) token.Session {
	return token.Session{ID: h(id), SID: sid, UserID: user, UserName: "name-" + user, TenantID: tenant,
		AuthTime: t0(), Clients: []string{"c1"}, Expiry: t0().Add(time.Hour)}
}

func testListSessions(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	for _, se := range []token.Session{
		sess("a", "t1", "u2", "sid-a"), sess("b", "t1", "u1", "sid-b"), sess("c", "t1", "u1", "sid-c"),
		sess("d", "t2", "u1", "sid-d"), sess("e", "t1", "u1", ""), // no SID: not listed
		sess("f", "t10", "u1", "sid-f"), // a tenant whose id extends t1's
	} {
		if err := s.PutSession(ctx, se); err != nil {
			t.Fatal(err)
		}
	}
	if got := listed(t, s, token.SessionQuery{TenantID: "t1"}); !slices.Equal(got, []string{"sid-b", "sid-c", "sid-a"}) {
		t.Errorf("tenant t1: %v, want ordered by user then SID", got)
	}
	if got := listed(t, s, token.SessionQuery{TenantID: "t1", UserID: "u1"}); !slices.Equal(got, []string{"sid-b", "sid-c"}) {
		t.Errorf("tenant t1 user u1: %v", got)
	}
	if got := listed(t, s, token.SessionQuery{TenantID: "t1", UserID: "u"}); len(got) != 0 {
		t.Errorf("user u (a prefix of u1 and u2): %v", got)
	}
	if got := listed(t, s, token.SessionQuery{TenantID: "t2"}); !slices.Equal(got, []string{"sid-d"}) {
		t.Errorf("tenant t2: %v", got)
	}
	if got := listed(t, s, token.SessionQuery{TenantID: "t3"}); len(got) != 0 {
		t.Errorf("unknown tenant: %v", got)
	}
	page, err := s.ListSessions(ctx, token.SessionQuery{TenantID: "t1", UserID: "u2"})
	if err != nil || len(page.Sessions) != 1 {
		t.Fatalf("ListSessions = %+v, %v", page, err)
	}
	got, want := page.Sessions[0], sess("a", "t1", "u2", "sid-a")
	if string(got.ID) != string(want.ID) || got.UserName != want.UserName || !got.AuthTime.Equal(want.AuthTime) ||
		!got.Expiry.Equal(want.Expiry) || !slices.Equal(got.Clients, want.Clients) {
		t.Errorf("listed session %+v, want %+v", got, want)
	}
}

func testListSessionsPaging(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	var want []string
	for i := range 25 {
		user := fmt.Sprintf("u%d", i%3)
		if err := s.PutSession(ctx, sess(fmt.Sprintf("p%02d", i), "t", user, fmt.Sprintf("sid-%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for u := range 3 {
		for i := range 25 {
			if i%3 == u {
				want = append(want, fmt.Sprintf("sid-%02d", i))
			}
		}
	}
	for _, limit := range []int{0, 1, 2, 7, 24, 25, 26, token.MaxSessionPage} {
		if got := listed(t, s, token.SessionQuery{TenantID: "t", Limit: limit}); !slices.Equal(got, want) {
			t.Errorf("limit %d: %v, want %v", limit, got, want)
		}
	}
	for _, limit := range []int{1, 3, 9} {
		if got := listed(t, s, token.SessionQuery{TenantID: "t", UserID: "u1", Limit: limit}); !slices.Equal(got, want[9:17]) {
			t.Errorf("user u1, limit %d: %v, want %v", limit, got, want[9:17])
		}
	}
	// A full page says there may be more only when there is: the last page's Next is empty.
	page, err := s.ListSessions(ctx, token.SessionQuery{TenantID: "t", Limit: 25})
	if err != nil || len(page.Sessions) != 25 || page.Next != "" {
		t.Errorf("a page of all 25: %d sessions, next %q, %v", len(page.Sessions), page.Next, err)
	}
}

func testListSessionsFollowsWrites(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	for _, se := range []token.Session{sess("a", "t", "u1", "sid-a"), sess("b", "t", "u1", "sid-b"),
		sess("c", "t", "u2", "sid-c"), sess("d", "t", "u3", "sid-d")} {
		if err := s.PutSession(ctx, se); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step string, want ...string) {
		t.Helper()
		if got := listed(t, s, token.SessionQuery{TenantID: "t"}); !slices.Equal(got, want) {
			t.Errorf("after %s: %v, want %v", step, got, want)
		}
	}
	// A session replaced with another SID is listed under the new one only.
	if err := s.PutSession(ctx, sess("a", "t", "u1", "sid-a2")); err != nil {
		t.Fatal(err)
	}
	check("replace", "sid-a2", "sid-b", "sid-c", "sid-d")
	if _, err := s.UpdateSession(ctx, h("b"), func(o token.Session) (token.Session, error) {
		o.SID, o.Expiry = "sid-b2", t0().Add(3*time.Hour)
		return o, nil
	}); err != nil {
		t.Fatal(err)
	}
	check("update", "sid-a2", "sid-b2", "sid-c", "sid-d")
	// A session moved to another tenant leaves this one's list.
	if err := s.PutSession(ctx, sess("c", "t-other", "u2", "sid-c")); err != nil {
		t.Fatal(err)
	}
	check("move", "sid-a2", "sid-b2", "sid-d")
	if got := listed(t, s, token.SessionQuery{TenantID: "t-other"}); !slices.Equal(got, []string{"sid-c"}) {
		t.Errorf("the other tenant: %v", got)
	}
	if _, err := s.DeleteSession(ctx, h("d")); err != nil {
		t.Fatal(err)
	}
	check("delete", "sid-a2", "sid-b2")
	// The sweep takes the expired session (a2, one hour) and keeps the renewed one (b2, three hours).
	if _, err := s.SweepExpired(ctx, t0().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	check("sweep", "sid-b2")
	if _, err := s.DeleteAccountSessions(ctx, []token.Account{{TenantID: "t", UserID: "u1"}}); err != nil {
		t.Fatal(err)
	}
	check("account end")
	// A SID given up by one session and taken by another is listed once, as the new one.
	if err := s.PutSession(ctx, sess("x", "t", "u9", "sid-x")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSession(ctx, sess("x", "t", "u9", "sid-y")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSession(ctx, sess("y", "t", "u9", "sid-x")); err != nil {
		t.Fatal(err)
	}
	page, err := s.ListSessions(ctx, token.SessionQuery{TenantID: "t"})
	if err != nil || len(page.Sessions) != 2 || string(page.Sessions[0].ID) != string(h("y")) || string(page.Sessions[1].ID) != string(h("x")) {
		t.Errorf("after a SID moved: %+v, %v", page.Sessions, err)
	}
}

func testListSessionsBadQueries(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	if err := s.PutSession(ctx, sess("a", "t", "u1", "sid-a")); err != nil {
		t.Fatal(err)
	}
	for _, q := range []token.SessionQuery{
		{},
		{TenantID: "t", Limit: -1},
		{TenantID: "t", Limit: token.MaxSessionPage + 1},
		{TenantID: "t\x00u1"},
		{TenantID: "t", UserID: "u\x00"},
	} {
		if _, err := s.ListSessions(ctx, q); err == nil {
			t.Errorf("ListSessions(%+v) succeeded", q)
		}
	}
	// A cursor of another user's listing is refused, not followed into the rest of the tenant.
	if _, err := s.ListSessions(ctx, token.SessionQuery{TenantID: "t", UserID: "u2", After: "u1\x00sid-a"}); !errors.Is(err, token.ErrBadCursor) {
		t.Errorf("foreign cursor: %v, want ErrBadCursor", err)
	}
	// A cursor past the end answers an empty last page.
	page, err := s.ListSessions(ctx, token.SessionQuery{TenantID: "t", After: "zzz"})
	if err != nil || len(page.Sessions) != 0 || page.Next != "" {
		t.Errorf("cursor past the end: %+v, %v", page, err)
	}
}

func testListSessionsReopen(t *testing.T, open func() token.Store) {
	s := open()
	if err := s.PutSession(ctx, sess("a", "t", "u1", "sid-a")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open()
	defer s.Close()
	if got := listed(t, s, token.SessionQuery{TenantID: "t"}); !slices.Equal(got, []string{"sid-a"}) {
		t.Errorf("after reopening: %v", got)
	}
}

// testListSessionsConcurrent: concurrent writes and deletions leave the index equal to the stored sessions.
func testListSessionsConcurrent(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 10 {
				id := fmt.Sprintf("w%d-%d", w, i)
				if err := s.PutSession(ctx, sess(id, "t", fmt.Sprintf("u%d", i%2), "sid-"+id)); err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					if _, err := s.DeleteSession(ctx, h(id)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	got := listed(t, s, token.SessionQuery{TenantID: "t", Limit: 7})
	var want []string
	for u := range 2 {
		for w := range 4 {
			for i := range 10 {
				if i%2 == u && i%3 != 0 {
					want = append(want, fmt.Sprintf("sid-w%d-%d", w, i))
				}
			}
		}
	}
	// Within a user, SIDs sort as strings.
	slices.Sort(want[:len(want)/2])
	slices.Sort(want[len(want)/2:])
	if !slices.Equal(got, want) {
		t.Errorf("after concurrent writes: %v, want %v", got, want)
	}
}
