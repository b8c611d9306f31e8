package registry_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// TestListPageTokenCarriesFilter checks that a filtered listing's page token is accepted with its own filter
// only, and that tokens of unfiltered listings keep their form.
func TestListPageTokenCarriesFilter(t *testing.T) {
	tok := registry.EncodeListPageToken("c00042", "billing")
	opts, err := registry.ListPageOptions(10, tok, "billing")
	if err != nil || opts.After != "c00042" || opts.Filter != "billing" || opts.Limit != 10 {
		t.Fatalf("same filter: %+v, %v", opts, err)
	}
	for _, other := range []string{"", "Billing", "billin", "reports"} {
		_, err := registry.ListPageOptions(10, tok, other)
		var fe *apierror.FieldError
		if !errors.As(err, &fe) || fe.Field != "pageToken" {
			t.Errorf("token for %q used with filter %q: %v, want a pageToken error", "billing", other, err)
		}
	}
	plain := registry.EncodeListPageToken("c00042", "")
	if plain != registry.EncodePageToken("c00042") {
		t.Errorf("unfiltered token %q changed form", plain)
	}
	if _, err := registry.ListPageOptions(10, plain, "billing"); err == nil {
		t.Error("an unfiltered token was accepted with a filter")
	}
	if registry.EncodeListPageToken("", "billing") != "" {
		t.Error("the last page's token is not empty")
	}
	for _, bad := range []string{strings.Repeat("x", registry.MaxFilterLen+1), "\xff"} {
		var fe *apierror.FieldError
		if _, err := registry.ListPageOptions(0, "", bad); !errors.As(err, &fe) || fe.Field != "filter" {
			t.Errorf("filter %q: %v, want a filter error", bad, err)
		}
	}
	if _, err := registry.ListPageOptions(-1, tok, "billing"); err == nil {
		t.Error("a negative page size was accepted")
	}
}

// FuzzRawMatcher checks the prefilter never rejects a record that matches: for any name and filter, when
// ClientMatches accepts the client, MayMatch accepts its JSON.
func FuzzRawMatcher(f *testing.F) {
	for _, s := range [][2]string{
		{"Billing Service", "billing"}, {"Tom & Jerry", "& j"}, {"\u212a", "k"}, {"İstanbul", "i̇s"},
		{"tab\there", "\t"}, {`quote"d`, `"d`}, {"ÉCOLE", "éc"}, {"x", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, filter string) {
		c := registry.Client{ID: "c1", Name: name}
		raw, err := json.Marshal(struct{ ID, Name string }{c.ID, c.Name})
		if err != nil {
			t.Skip()
		}
		if registry.ClientMatches(c, filter) && !registry.NewRawMatcher(filter).MayMatch(raw) {
			t.Fatalf("name %q filter %q: matches, but the prefilter rejected %s", name, filter, raw)
		}
	})
}

// FuzzListPageOptions checks the filtered page token rule: a token round-trips with its own filter, is refused
// with any other, and any string given as a token is either refused as "pageToken" or yields a position.
func FuzzListPageOptions(f *testing.F) {
	f.Add("c00042", "billing", "billing", "")
	f.Add("c1", "", "x", "azE6YzE")
	f.Add("u", "é", "É", "ZjE6")
	f.Fuzz(func(t *testing.T, next, filter, other, token string) {
		if len(filter) > registry.MaxFilterLen || len(other) > registry.MaxFilterLen {
			return
		}
		if opts, err := registry.ListPageOptions(5, token, other); err != nil {
			var fe *apierror.FieldError
			if !errors.As(err, &fe) || (fe.Field != "pageToken" && fe.Field != "filter") {
				t.Fatalf("token %q filter %q: %v", token, other, err)
			}
		} else if opts.Filter != other {
			t.Fatalf("filter %q became %q", other, opts.Filter)
		}
		tok := registry.EncodeListPageToken(next, filter)
		if next == "" {
			if tok != "" {
				t.Fatalf("empty next gave token %q", tok)
			}
			return
		}
		opts, err := registry.ListPageOptions(5, tok, filter)
		if err != nil && validFilter(filter) {
			t.Fatalf("own filter %q refused: %v", filter, err)
		}
		if err == nil && opts.After != next {
			t.Fatalf("after %q, want %q", opts.After, next)
		}
		if other != filter && validFilter(other) {
			if _, err := registry.ListPageOptions(5, tok, other); err == nil {
				t.Fatalf("token of filter %q accepted with %q", filter, other)
			}
		}
	})
}

func validFilter(s string) bool { return utf8.ValidString(s) && len(s) <= registry.MaxFilterLen }
