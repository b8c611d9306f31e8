package console

import (
	"reflect"
	"strings"
	"testing"

	"github.com/authsuite/authsuite/internal/apistatus"
)

func TestFileEntries(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []fileEntry
	}{
		{"wrapped", `{"oauthConfigurations": {"slack": {"Slack": {}}, "google_gmail": {"Gmail-2": {}, "Gmail-1": {}}}}`,
			[]fileEntry{{"google_gmail", "Gmail-1"}, {"google_gmail", "Gmail-2"}, {"slack", "Slack"}}},
		{"bare", `{"slack": {"Slack": {"CLIENT_ID": "x"}}}`, []fileEntry{{"slack", "Slack"}}},
		// The wrapper next to other keys is not the wrapped shape (the API refuses it): shown as entries.
		{"wrapper and more", `{"oauthConfigurations": {"a": {}}, "slack": {"S": {}}}`,
			[]fileEntry{{"oauthConfigurations", "a"}, {"slack", "S"}}},
		{"type not an object", `{"slack": 3, "box": {}}`, []fileEntry{{"box", ""}, {"slack", ""}}},
		{"dotted name", `{"slack": {"a.b": {}, "a": {}}}`, []fileEntry{{"slack", "a"}, {"slack", "a.b"}}},
		{"not json", `{"slack": `, nil},
		{"array", `[1]`, nil},
		{"empty", ``, nil},
	} {
		if got := fileEntries([]byte(tc.doc)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	var b strings.Builder
	b.WriteString(`{"t": {`)
	for i := range maxShownEntries + 10 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"n` + strings.Repeat("x", i) + `": {}`)
	}
	b.WriteString(`}}`)
	if n := len(fileEntries([]byte(b.String()))); n != maxShownEntries {
		t.Fatalf("%d entries shown, want at most %d", n, maxShownEntries)
	}
}

func TestGroupProblems(t *testing.T) {
	entries := []fileEntry{{"google_gmail", "Gmail-1"}, {"google_gmail", "Gmail-2"}, {"slack", "a"}, {"slack", "a.b"}, {"zendesk", ""}}
	r := groupProblems(entries, []apistatus.Violation{
		{Field: "oauthConfigurations.google_gmail.Gmail-2.CLIENT_SECRET", Description: "google_gmail/Gmail-2: CLIENT_SECRET is required"},
		{Field: "oauthConfigurations.google_gmail.Gmail-2", Description: "google_gmail/Gmail-2: is used by 1 connector(s)"},
		{Field: "oauthConfigurations.slack.a.b.CLIENT_ID", Description: "slack/a.b: CLIENT_ID is required"},
		{Field: "oauthConfigurations.slack.a.CLIENT_ID", Description: "slack/a: CLIENT_ID is required"},
		{Field: "oauthConfigurations.zendesk", Description: "zendesk: must be an object"},
		{Field: "oauthConfigurations.google_gmail", Description: "google_gmail: type-wide"},
		{Field: "oauthConfigurations", Description: "must not be empty"},
		{Field: "document", Description: "line 1, column 2: bad"},
	})
	want := []entryResult{
		{"google_gmail", "Gmail-1", []string{"google_gmail: type-wide"}},
		{"google_gmail", "Gmail-2", []string{"google_gmail/Gmail-2: CLIENT_SECRET is required", "google_gmail/Gmail-2: is used by 1 connector(s)", "google_gmail: type-wide"}},
		{"slack", "a", []string{"slack/a: CLIENT_ID is required"}},
		{"slack", "a.b", []string{"slack/a.b: CLIENT_ID is required"}},
		{"zendesk", "", []string{"zendesk: must be an object"}},
	}
	if !reflect.DeepEqual(r.Entries, want) {
		t.Errorf("entries:\n%v\nwant\n%v", r.Entries, want)
	}
	if !reflect.DeepEqual(r.File, []string{"must not be empty", "line 1, column 2: bad"}) {
		t.Errorf("file problems %q", r.File)
	}
	if r.Refused() != 5 {
		t.Errorf("refused %d", r.Refused())
	}
	if ok := groupProblems(entries[:1], nil); ok.Refused() != 0 || len(ok.Entries) != 1 || ok.File != nil {
		t.Errorf("no problems: %+v", ok)
	}
}

// FuzzProviderFile: the console's reading of an uploaded file never panics, lists each entry at most once in
// order, never more than maxShownEntries, and every violation it is given is shown somewhere.
func FuzzProviderFile(f *testing.F) {
	f.Add([]byte(`{"oauthConfigurations": {"google_gmail": {"Gmail-1": {"CLIENT_ID": "x"}}}}`), "oauthConfigurations.google_gmail.Gmail-1.CLIENT_SECRET")
	f.Add([]byte(`{"slack": {"a.b": {}, "a": {}}}`), "oauthConfigurations.slack.a.b")
	f.Add([]byte(`{"slack": 1}`), "oauthConfigurations.slack")
	f.Add([]byte(`{"oauthConfigurations": {}, "x": []}`), "oauthConfigurations")
	f.Add([]byte("\xff{"), "document")
	f.Fuzz(func(t *testing.T, doc []byte, field string) {
		es := fileEntries(doc)
		if len(es) > maxShownEntries {
			t.Fatalf("%d entries", len(es))
		}
		for i := 1; i < len(es); i++ {
			a, b := es[i-1], es[i]
			if a.Type > b.Type || a.Type == b.Type && a.Name >= b.Name {
				t.Fatalf("entries not ordered or repeated: %v then %v", a, b)
			}
		}
		r := groupProblems(es, []apistatus.Violation{{Field: field, Description: "p"}})
		shown := len(r.File)
		for _, e := range r.Entries {
			shown += len(e.Problems)
		}
		if shown == 0 {
			t.Fatalf("violation of %q not shown", field)
		}
	})
}
