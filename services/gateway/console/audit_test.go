package console

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	opsv1 "github.com/authsuite/authsuite/gen/authsuite/ops/v1"
)

// auditLog is one service's fake audit API: events newest first, paged by offset tokens, as the real
// service pages (page_size events after the token).
type auditLog struct {
	service string
	events  []*opsv1.AuditEvent // newest first
	calls   int
}

func (l *auditLog) Invoke(_ context.Context, method string, args, reply any, _ ...grpc.CallOption) error {
	if method != "/authsuite.ops.v1.AuditService/ListAuditEvents" {
		return status.Error(codes.Unimplemented, method)
	}
	l.calls++
	req := args.(*opsv1.ListAuditEventsRequest)
	if req.GetService() != l.service {
		return status.Error(codes.InvalidArgument, "another service")
	}
	var evs []*opsv1.AuditEvent
	for _, e := range l.events {
		if req.GetEvent() == "" || e.GetEvent() == req.GetEvent() {
			evs = append(evs, e)
		}
	}
	from, _ := strconv.Atoi(req.GetPageToken())
	n := int(req.GetPageSize())
	if n <= 0 || n > 1000 {
		n = 100
	}
	to := min(from+n, len(evs))
	resp := &opsv1.ListAuditEventsResponse{Items: evs[min(from, to):to]}
	if to < len(evs) {
		resp.NextPageToken = strconv.Itoa(to)
	}
	proto.Merge(reply.(proto.Message), resp)
	return nil
}

func (*auditLog) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errors.New("no streams")
}

// signedInConsole is a console over conns with a system administrator's session cookie.
func signedInConsole(t *testing.T, registry, token, provider grpc.ClientConnInterface) (*Console, *http.Cookie) {
	t.Helper()
	c, err := New(Config{PublicURL: testIssuer, Secret: "test secret", Secure: true, Registry: registry, Token: token, Provider: provider})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.sessions.seal(&Session{AccessToken: "at", Expiry: time.Now().Add(time.Hour), Subject: "u-1", TenantID: "default",
		TenantCode: "default", ClientID: "console", System: true, CSRF: "csrf"})
	if err != nil {
		t.Fatal(err)
	}
	return c, &http.Cookie{Name: "__Host-" + sessionCookieName, Value: v}
}

var auditTarget = regexp.MustCompile(`user (e\d+)`)
var nextPage = regexp.MustCompile(`<a href="([^"]+)" id="next-page"`)

// TestAuditPagesMergeTheServices: paging the audit page from the first page to the last shows every event
// of the three services exactly once, newest first, however their times interleave (some equal), with and
// without an event filter.
func TestAuditPagesMergeTheServices(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	logs := map[string]*auditLog{}
	var all []*opsv1.AuditEvent
	for _, svc := range auditServices {
		logs[svc] = &auditLog{service: svc}
	}
	// 173 events: the services' shares and their times interleave irregularly, with ties.
	for i := 0; i < 173; i++ {
		svc := auditServices[(i*7+i/5)%3]
		ev := "user_created"
		if i%4 == 0 {
			ev = "user_deleted"
		}
		e := &opsv1.AuditEvent{Id: strconv.Itoa(i), Time: timestamppb.New(base.Add(time.Duration(i/2) * time.Second)), Service: svc,
			Event: ev, TenantId: "t", Outcome: "success", Target: &opsv1.AuditTarget{Kind: "user", Id: "e" + strconv.Itoa(i)}}
		all = append(all, e)
	}
	for i := len(all) - 1; i >= 0; i-- { // newest first per service
		logs[all[i].GetService()].events = append(logs[all[i].GetService()].events, all[i])
	}
	c, ck := signedInConsole(t, logs["registry"], logs["token"], logs["provider"])

	for _, filter := range []string{"", "user_deleted"} {
		var want []string
		for i := len(all) - 1; i >= 0; i-- {
			if filter == "" || all[i].GetEvent() == filter {
				want = append(want, "e"+strconv.Itoa(i))
			}
		}
		var got []string
		var times []time.Time
		target := "/console/audit"
		if filter != "" {
			target += "?event=" + filter
		}
		for pages := 0; target != ""; pages++ {
			if pages > 20 {
				t.Fatal("paging does not end")
			}
			r := httptest.NewRequest("GET", testIssuer+target, nil)
			r.AddCookie(ck)
			w := httptest.NewRecorder()
			c.ServeHTTP(w, r)
			if w.Code != 200 {
				t.Fatalf("%s: %d %s", target, w.Code, w.Body)
			}
			body := w.Body.String()
			for _, m := range auditTarget.FindAllStringSubmatch(body, -1) {
				got = append(got, m[1])
				i, _ := strconv.Atoi(m[1][1:])
				times = append(times, all[i].GetTime().AsTime())
			}
			target = ""
			if m := nextPage.FindStringSubmatch(body); m != nil {
				target = html.UnescapeString(m[1])
			}
		}
		// Ties may come in either service order; every event exactly once, times never increasing.
		if len(got) != len(want) {
			t.Fatalf("filter %q: %d events shown, want %d", filter, len(got), len(want))
		}
		sortedGot, sortedWant := slices.Clone(got), slices.Clone(want)
		slices.Sort(sortedGot)
		slices.Sort(sortedWant)
		if !slices.Equal(sortedGot, sortedWant) {
			t.Fatalf("filter %q: events %v, want %v", filter, got, want)
		}
		for i := 1; i < len(times); i++ {
			if times[i].After(times[i-1]) {
				t.Fatalf("filter %q: not newest first at %d: %v", filter, i, got)
			}
		}
	}
}

// TestAuditPageWithoutAService: a service that does not answer leaves its events out and says so; a
// refusal of the API is the refusal page.
func TestAuditPageWithoutAService(t *testing.T) {
	reg := &auditLog{service: "registry", events: []*opsv1.AuditEvent{{Id: "1", Time: timestamppb.Now(), Service: "registry",
		Event: "user_created", Target: &opsv1.AuditTarget{Kind: "user", Id: "e1"}}}}
	down := fakeConn{handle: func(context.Context, string, any) (proto.Message, error) {
		return nil, status.Error(codes.Unavailable, "down")
	}}
	c, ck := signedInConsole(t, reg, down, nil)
	r := httptest.NewRequest("GET", testIssuer+"/console/audit", nil)
	r.AddCookie(ck)
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	if w.Code != 200 || !auditTarget.MatchString(w.Body.String()) || !regexp.MustCompile(`id="audit-missing">[^<]*token`).MatchString(w.Body.String()) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}

	refuse := fakeConn{handle: func(context.Context, string, any) (proto.Message, error) {
		return nil, status.Error(codes.PermissionDenied, "not an administrator of this tenant")
	}}
	c, ck = signedInConsole(t, refuse, refuse, nil)
	r = httptest.NewRequest("GET", testIssuer+"/console/audit?tenant=other", nil)
	r.AddCookie(ck)
	w = httptest.NewRecorder()
	c.ServeHTTP(w, r)
	if w.Code != 403 {
		t.Fatalf("refused: %d", w.Code)
	}
}

// FuzzAuditCursor: a cursor parameter never panics, reads only bounded values, and a cursor it wrote reads
// back the same.
func FuzzAuditCursor(f *testing.F) {
	for _, s := range []string{"", "-", "0:", "12:abc", "901:x", "-1:x", "3:a:b", "x:y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := parseAuditCursor(s)
		if c.skip < 0 || c.skip > 900 || len(c.token) > 4096 {
			t.Fatalf("%q read as %+v", s, c)
		}
		if again := parseAuditCursor(c.String()); again != c {
			t.Fatalf("%q: %+v writes %q, which reads %+v", s, c, c.String(), again)
		}
	})
}
