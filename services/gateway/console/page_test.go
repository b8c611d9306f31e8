package console

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/authsuite/authsuite/internal/apierror"
)

func TestProblemsOf(t *testing.T) {
	p := ProblemsOf(apierror.Invalid("redirectUris[1]", "must be an absolute URI"))
	if p.Status != 400 || p.Fields["redirectUris[1]"] != "must be an absolute URI" {
		t.Fatalf("field error: %+v", p)
	}
	st, _ := status.New(codes.InvalidArgument, "invalid configuration (2 problems)").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "a", Description: "bad a"}, {Field: "b", Description: "bad b"}},
	})
	p = ProblemsOf(st.Err())
	if p.Status != 400 || p.Fields["a"] != "bad a" || p.Fields["b"] != "bad b" || p.Message == "" {
		t.Fatalf("violations: %+v", p)
	}
	if p := ProblemsOf(apierror.AlreadyExists("tenant code %q", "acme")); p.Status != 409 || p.Message != `tenant code "acme"` {
		t.Fatalf("already exists: %+v", p)
	}
	if p := ProblemsOf(status.Error(codes.Internal, "disk on fire at /var/lib")); p.Status != 500 || p.Message != "internal error" {
		t.Fatalf("internal: %+v", p)
	}
	if p := ProblemsOf(status.Error(codes.PermissionDenied, "no")); p.Status != 403 {
		t.Fatalf("denied: %+v", p)
	}
}

// items is a fake API listing: n items "i000"…, pages of at most size after the token (the last item's
// index).
func items(n int) Fetch[string] {
	return func(_ context.Context, token string, size int32) ([]string, string, error) {
		start := 0
		if token != "" {
			i, err := strconv.Atoi(token)
			if err != nil {
				return nil, "", apierror.Invalid("pageToken", "bad")
			}
			start = i + 1
		}
		var out []string
		for i := start; i < n && len(out) < int(size); i++ {
			out = append(out, fmt.Sprintf("i%03d", i))
		}
		next := ""
		if start+len(out) < n {
			next = strconv.Itoa(start + len(out) - 1)
		}
		return out, next, nil
	}
}

// walk follows a list's Next links from target and returns every item shown, failing on repeats.
func walk(t *testing.T, fetch Fetch[string], target string) []string {
	t.Helper()
	var all []string
	seen := map[string]bool{}
	for pages := 0; target != ""; pages++ {
		if pages > 100 {
			t.Fatal("no end")
		}
		x := &Ctx{R: httptest.NewRequest("GET", target, nil), Session: &Session{AccessToken: "t"}}
		got, pg, err := List(x, fetch, func(s, q string) bool { return Contains(q, s) })
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > DefaultPageSize {
			t.Fatalf("%d items on one page", len(got))
		}
		for _, s := range got {
			if seen[s] {
				t.Fatalf("%s shown twice", s)
			}
			seen[s] = true
		}
		all = append(all, got...)
		target = pg.Next
	}
	return all
}

func TestListPagesAndFilters(t *testing.T) {
	if got := walk(t, items(130), "/console/x"); len(got) != 130 {
		t.Fatalf("unfiltered: %d items", len(got))
	}
	// A case-insensitive substring: "I1" matches i100–i129 only.
	got := walk(t, items(130), "/console/x?q=I1")
	if len(got) != 30 || got[0] != "i100" || got[29] != "i129" {
		t.Fatalf("filtered: %d items %v", len(got), got)
	}
	// A filter that matches more than a page stops mid API page and resumes there.
	if got := walk(t, items(3000), "/console/x?q=i"); len(got) != 3000 {
		t.Fatalf("filter matching all: %d", len(got))
	}
	if got := walk(t, items(0), "/console/x?q=zzz"); len(got) != 0 {
		t.Fatalf("empty: %v", got)
	}
	// A sparse filter stops after maxScan items and offers to search further.
	x := &Ctx{R: httptest.NewRequest("GET", "/console/x?q=i24999", nil), Session: &Session{AccessToken: "t"}}
	got, pg, err := List(x, items(25000), func(s, q string) bool { return Contains(q, s) })
	if err != nil || len(got) != 0 || !pg.Partial || pg.Next == "" {
		t.Fatalf("sparse filter: %v %+v %v", got, pg, err)
	}
	if got := walk(t, items(25000), pg.Next); len(got) != 1 || got[0] != "i24999" {
		t.Fatalf("searching further: %v", got)
	}
}
