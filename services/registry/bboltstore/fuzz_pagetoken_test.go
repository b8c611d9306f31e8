package bboltstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/bboltstore"
)

// FuzzPageToken checks list paging as the registry servers do it (registry.PageOptions on the request's
// page_size and page_token, a store listing, registry.EncodePageToken on the next key) with arbitrary sizes
// and tokens, on a store holding users of two tenants whose ids share prefixes:
//   - a refusal is an *apierror.FieldError naming pageToken, or pageSize exactly when the size is negative;
//     a non-empty accepted token never means the first page;
//   - an accepted page holds only the tenant's users, in id order, all after the token's key, exactly the
//     next EffectiveLimit ones of the reference listing, and its next token is set exactly when more follow;
//   - round trip: EncodePageToken then DecodePageToken gives the key back, and walking every page from
//     the first with the fuzzed size returns each of the tenant's users exactly once, in order.
func FuzzPageToken(f *testing.F) {
	ids := []string{"a", "a-", "a.", "a0", "a00", "alice", "b", "bob", "bob_1", "bob-2", "z", "Z", "0", "9x", "u.1", "u.10", "u.2"}
	other := []string{"a", "alice", "bob", "c", "zz"}
	for _, s := range []struct {
		size  int32
		token string
	}{
		{0, ""}, {1, ""}, {3, registry.EncodePageToken("a0")}, {2, registry.EncodePageToken("bob")},
		{-1, ""}, {5, "!!"}, {5, registry.EncodePageToken("\x00")}, {1000, registry.EncodePageToken("zzz")},
		{2, "azE6"}, {2, "azE"}, {1, registry.EncodePageToken("a") + "\n"}, {4, registry.EncodePageToken("t1\x00b")},
	} {
		f.Add(s.size, s.token)
	}

	dir, err := os.MkdirTemp("", "fuzz-pagetoken-")
	if err != nil {
		f.Fatal(err)
	}
	st, err := bboltstore.Open(filepath.Join(dir, "registry.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close(); os.RemoveAll(dir) })
	ctx := context.Background()
	for tenant, list := range map[string][]string{"t1": ids, "t10": other, "t": other} {
		if _, err := st.CreateTenant(ctx, registry.Tenant{ID: tenant, Code: "c" + tenant}); err != nil {
			f.Fatal(err)
		}
		for i, id := range list {
			if _, err := st.CreateUser(ctx, registry.User{ID: id, TenantID: tenant, LoginName: fmt.Sprintf("user%d", i)}); err != nil {
				f.Fatal(err)
			}
		}
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)

	list := func(t *testing.T, opts registry.ListOptions) ([]string, string) {
		t.Helper()
		items, next, err := st.ListUsers(ctx, "t1", opts)
		if err != nil {
			t.Fatalf("ListUsers(%+v): %v", opts, err)
		}
		got := make([]string, len(items))
		for i, u := range items {
			if u.TenantID != "t1" {
				t.Fatalf("page of t1 holds user %q of tenant %q", u.ID, u.TenantID)
			}
			got[i] = u.ID
		}
		return got, next
	}

	f.Fuzz(func(t *testing.T, size int32, token string) {
		opts, err := registry.PageOptions(size, token)
		if err != nil {
			var fe *apierror.FieldError
			if !errors.As(err, &fe) || (fe.Field != "pageToken" && fe.Field != "pageSize") || (fe.Field == "pageSize") != (size < 0) {
				t.Fatalf("PageOptions(%d, %q): error %v", size, token, err)
			}
			return
		}
		if size < 0 {
			t.Fatalf("PageOptions accepted size %d", size)
		}
		if token != "" && opts.After == "" {
			t.Fatalf("token %q accepted as the first page", token)
		}
		if back, err := registry.DecodePageToken(registry.EncodePageToken(opts.After)); err != nil || back != opts.After {
			t.Fatalf("page token of %q decodes to %q, %v", opts.After, back, err)
		}

		got, next := list(t, opts)
		var want []string
		for _, id := range sorted {
			if opts.After == "" || id > opts.After {
				want = append(want, id)
			}
		}
		more := len(want) > opts.EffectiveLimit()
		want = want[:min(len(want), opts.EffectiveLimit())]
		if !slices.Equal(got, want) {
			t.Fatalf("page after %q size %d: %q, want %q", opts.After, size, got, want)
		}
		if (next != "") != more || (more && next != got[len(got)-1]) {
			t.Fatalf("page after %q size %d: next %q (more follow: %v)", opts.After, size, next, more)
		}

		if next != "" {
			if back, err := registry.DecodePageToken(registry.EncodePageToken(next)); err != nil || back != next {
				t.Fatalf("page token of %q decodes to %q, %v", next, back, err)
			}
		}
		// Walk every page from the first.
		var all []string
		tok := ""
		for range len(sorted) + 2 {
			o, err := registry.PageOptions(size, tok)
			if err != nil {
				t.Fatalf("our own page token %q refused: %v", tok, err)
			}
			page, n := list(t, o)
			all = append(all, page...)
			if n == "" {
				break
			}
			tok = registry.EncodePageToken(n)
		}
		if !slices.Equal(all, sorted) {
			t.Fatalf("paging by %d returned %q, want %q", size, all, sorted)
		}
	})
}
