package server

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/authsuite/authsuite/internal/apierror"
)

// referenceRevisions is parseRevisions written another way (a regular expression per list element), the
// oracle of FuzzParseRevisions.
func referenceRevisions(values []string) (revisionWant, bool) {
	elem := regexp.MustCompile(`^[ \t]*([A-Za-z0-9_-]{1,32}):([0-9]{1,19})[ \t]*$`)
	blank := regexp.MustCompile(`^[ \t]*$`)
	var w revisionWant
	for _, v := range values {
		for _, e := range strings.Split(v, ",") {
			if blank.MatchString(e) {
				continue
			}
			m := elem.FindStringSubmatch(e)
			if m == nil {
				return revisionWant{}, false
			}
			n, err := strconv.ParseInt(m[2], 10, 64)
			if err != nil {
				return revisionWant{}, false
			}
			switch strings.ToLower(m[1]) {
			case "registry":
				w.registry = max(w.registry, n)
			case "token":
				w.token = max(w.token, n)
			}
		}
	}
	return w, true
}

// FuzzParseRevisions: parseRevisions agrees with the reference on every input (same revisions, or both
// refuse), never panics, refuses only with an error naming the header, and reads back what it would format.
func FuzzParseRevisions(f *testing.F) {
	for _, s := range []string{
		"", "registry:1", "token:45", "registry:123, token:45", " registry:1 ,, token:2 ", "provider:9", "Registry:3",
		"registry:9223372036854775807", "registry:9223372036854775808", "registry:-1", "registry:+1", "registry:",
		":1", "registry", "registry:1:2", "registry:0x10", "registry:1_000", "registry:١", "regi stry:1", "registry:1\n",
		"\tregistry:1\t", "registry:01", strings.Repeat("a", 33) + ":1", strings.Repeat("a", 32) + ":1",
	} {
		f.Add(s, "token:3")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		values := []string{a, b}
		got, err := parseRevisions(values)
		want, ok := referenceRevisions(values)
		if ok != (err == nil) || got != want {
			t.Fatalf("parseRevisions(%q) = %+v, %v; reference %+v, accepted %t", values, got, err, want, ok)
		}
		if err != nil {
			var fe *apierror.FieldError
			if !errors.As(err, &fe) || fe.Field != revisionField {
				t.Fatalf("parseRevisions(%q): error %v does not name %s", values, err, revisionField)
			}
			return
		}
		again, err := parseRevisions([]string{"token:" + strconv.FormatInt(got.token, 10) + ", registry:" + strconv.FormatInt(got.registry, 10)})
		if err != nil || again != got {
			t.Fatalf("round trip of %+v: %+v, %v", got, again, err)
		}
	})
}
