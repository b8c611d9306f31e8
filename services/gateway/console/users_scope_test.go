package console

import (
	"slices"
	"strings"
	"testing"
)

func TestParseAttributes(t *testing.T) {
	m, bad := parseAttributes("department = R&D\r\n\nformula=a=b\n")
	if bad != 0 || m["department"] != "R&D" || m["formula"] != "a=b" || len(m) != 2 {
		t.Fatalf("parse = %v, %d", m, bad)
	}
	if _, bad := parseAttributes("ok=1\nno equals sign"); bad != 2 {
		t.Fatalf("bad line = %d, want 2", bad)
	}
}

func TestListErrors(t *testing.T) {
	fields := map[string]string{"roles[1]": "duplicate", "rolesX": "other", "groups[0]": "bad", "attributes.bad key": "not a name"}
	if got := listErrors(fields, "roles", []string{"a", "a"}); got != "“a”: duplicate" {
		t.Fatalf("roles: %q", got)
	}
	if got := listErrors(fields, "attributes", nil); got != "“bad key”: not a name" {
		t.Fatalf("attributes: %q", got)
	}
	if got := listErrors(fields, "roles", nil); got != "duplicate" {
		t.Fatalf("roles without items: %q", got)
	}
}

// FuzzAttributes: whatever is typed, parsing never fails silently: either a line number, or a map whose
// formatting parses back to the same map.
func FuzzAttributes(f *testing.F) {
	for _, s := range []string{"", "a=b", "a=b\nc=d=e", "x", "\r\n=\n", " k = v \n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, bad := parseAttributes(s)
		if bad > 0 {
			if bad > strings.Count(s, "\n")+1 {
				t.Fatalf("line %d of %q", bad, s)
			}
			return
		}
		again, bad := parseAttributes(formatAttributes(m))
		if bad != 0 {
			t.Fatalf("formatted %v does not parse: line %d", m, bad)
		}
		for k, v := range m {
			if strings.TrimSpace(k) != k || strings.TrimSpace(v) != v || strings.ContainsAny(k+v, "\n") {
				t.Fatalf("untrimmed or multi-line entry %q=%q", k, v)
			}
			if strings.Contains(k, "=") {
				continue // a name with "=" cannot be written back; the API refuses such names anyway
			}
			if again[k] != v {
				t.Fatalf("round trip of %q: %v vs %v", s, m, again)
			}
		}
	})
}

// FuzzSplitList: items never contain separators or are empty, and their order is the typed order.
func FuzzSplitList(f *testing.F) {
	for _, s := range []string{"", "a b,c", " ,\n", "tenant_admin"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		items := splitList(s)
		for _, it := range items {
			if it == "" || strings.ContainsAny(it, ", \n\r\t") {
				t.Fatalf("item %q of %q", it, s)
			}
		}
		if !slices.Equal(splitList(strings.Join(items, " ")), items) {
			t.Fatalf("join/split of %q changes %v", s, items)
		}
	})
}

// FuzzIndexOf: the index reader of "[n]" field names never panics and reads only digits.
func FuzzIndexOf(f *testing.F) {
	for _, s := range []string{"[0]", "[12].x", "[]", "[", "[a]", "[99999999999999999999]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, ok := indexOf(s); ok && n < 0 {
			t.Fatalf("negative index of %q", s)
		}
	})
}
