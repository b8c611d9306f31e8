package provider_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/authsuite/authsuite/services/provider"
)

func TestParseDocumentShapes(t *testing.T) {
	c := provider.DefaultCatalog()
	bare := []byte(`{"box": {"Box": {"CLIENT_ID": "a", "CLIENT_SECRET": "b"}}}`)
	wrapped := []byte(`{"oauthConfigurations": {"box": {"Box": {"CLIENT_ID": "a", "CLIENT_SECRET": "b"}}}}`)
	for _, doc := range [][]byte{bare, wrapped} {
		parsed, problems, err := provider.ParseDocument(c, doc)
		if err != nil || len(problems) > 0 || len(parsed) != 1 || parsed[0].Secret != "b" {
			t.Fatalf("%s: %+v %v %v", doc, parsed, problems, err)
		}
	}
	for _, doc := range []string{`{}`, `{"oauthConfigurations": {}}`, `{"oauthConfigurations": {}, "box": {}}`, `[]`, `{"oauthConfigurations": null}`} {
		_, problems, err := provider.ParseDocument(c, []byte(doc))
		if err != nil || len(problems) == 0 {
			t.Errorf("%s: problems %v, err %v; want problems", doc, problems, err)
		}
	}
	// A misspelt wrapper or connector type is named with its likely meaning.
	for doc, want := range map[string]string{`{"oauthConfiguration": {}}`: `did you mean "oauthConfigurations"?`, `{"google_gmial": {}}`: `did you mean "google_gmail"?`} {
		_, problems, err := provider.ParseDocument(c, []byte(doc))
		if err != nil || len(problems) != 1 || !strings.Contains(problems[0].Reason, want) {
			t.Errorf("%s: %v %v, want a problem with %q", doc, problems, err, want)
		}
	}
	// Numbers are kept as written and refused as values (settings are strings).
	_, problems, err := provider.ParseDocument(c, []byte(`{"box": {"Box": {"CLIENT_ID": 12345678901234567890, "CLIENT_SECRET": "b"}}}`))
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0].String(), "must be a string, not a number") {
		t.Errorf("number value: %v %v", problems, err)
	}
	cases := []struct {
		doc        string
		line, col  int
		reasonPart string
	}{
		{"", 1, 1, "empty"},
		{"  \n ", 2, 2, "empty"},
		{"{\n  \"box\": {\n    \"Box\" {}\n  }\n}", 3, 11, "after object key"},
		{"{\"a\": \"é\" x}", 1, 11, "invalid character 'x'"},
		{"{\"a\": tru }", 1, 10, "in literal true"},
		{"[1, 2, 3x]", 1, 9, "after array element"},
		{"[1, 2, x]", 1, 8, "looking for beginning of value"},
		{"{\"a\": \"line\nbreak\"}", 1, 12, "in string literal"},
		{"{\"a\": 1}{}", 1, 9, "data after"},
		{"{\"a\": {}, \"a\": {}}", 1, 11, "twice"},
		{"{\"a\": [", 1, 8, "end of the document"},
		{strings.Repeat("[", 40), 1, 33, "nested deeper"},
	}
	for _, tc := range cases {
		_, _, err := provider.ParseDocument(c, []byte(tc.doc))
		var de *provider.DocumentError
		if !errors.As(err, &de) || de.Line != tc.line || de.Column != tc.col || !strings.Contains(de.Reason, tc.reasonPart) {
			t.Errorf("%q: %v, want line %d, column %d, reason with %q", tc.doc, err, tc.line, tc.col, tc.reasonPart)
		}
	}
}

// FuzzParseDocument: the bare and the wrapped spelling of the same document parse identically; a
// document error points inside the input (or just after its last character) and is only reported for
// input encoding/json refuses, or for a duplicate key or too deep nesting; accepted entries carry
// credentials. Run: go test ./services/provider -run '^$' -fuzz FuzzParseDocument -fuzztime 30s
func FuzzParseDocument(f *testing.F) {
	for _, name := range []string{"testdata/seed_all.json", "testdata/seed_gmail_multi.json", "testdata/seed_removal_fragment.txt", "../../docs/examples/oauth-configurations.json"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"azure": {"A": {"CLIENT_ID": "a", "CLIENT_SECRET": "b", "TENANT_ID": "contoso.onmicrosoft.com"}}, "salesforce": {"S": {"CLIENT_ID": "a", "CLIENT_SECRET": "b", "LOGIN_URL": "https://test.salesforce.com"}}}`))
	f.Add([]byte("{\"box\": {\"Box\": {\"CLIENT_ID\": \"a\"\n\"CLIENT_SECRET\": \"b\"}}}"))
	f.Add([]byte(`{"box": {"Box": {"CLIENT_ID": "a", "CLIENT_ID": "b"}}}`))
	c := provider.DefaultCatalog()
	f.Fuzz(func(t *testing.T, data []byte) {
		parsed, problems, err := provider.ParseDocument(c, data)
		if err != nil {
			var de *provider.DocumentError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DocumentError", err)
			}
			lines := bytes.Split(data, []byte("\n"))
			if de.Line < 1 || de.Line > len(lines) || de.Column < 1 || de.Column > utf8.RuneCount(lines[de.Line-1])+1 {
				t.Fatalf("%v points outside the input (%d lines)", err, len(lines))
			}
			if json.Valid(data) && !strings.Contains(de.Reason, "twice") && !strings.Contains(de.Reason, "nested deeper") {
				t.Fatalf("valid JSON refused: %v", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("invalid JSON accepted: %q", data)
		}
		if len(problems) == 0 && len(parsed) == 0 {
			t.Fatal("no entries and no problems")
		}
		for _, p := range parsed {
			if p.Secret == "" || p.Provider.Settings.ClientID == "" {
				t.Fatalf("accepted entry without credentials: %+v", p.Provider.ProviderKey)
			}
		}
		// The other spelling of the same document: wrap a bare object, unwrap a wrapped one.
		var top map[string]json.RawMessage
		if json.Unmarshal(data, &top) != nil {
			return
		}
		var other []byte
		if inner, ok := top[provider.WrapperKey]; ok {
			if len(top) != 1 {
				return
			}
			other = inner
		} else {
			other = append(append([]byte(`{"`+provider.WrapperKey+`": `), data...), '}')
		}
		parsed2, problems2, err2 := provider.ParseDocument(c, other)
		if err2 != nil {
			if !strings.Contains(err2.Error(), "nested deeper") {
				t.Fatalf("%q parsed, its other spelling %q did not: %v", data, other, err2)
			}
			return
		}
		if fmt.Sprint(parsed) != fmt.Sprint(parsed2) || fmt.Sprint(problems) != fmt.Sprint(problems2) {
			t.Fatalf("spellings differ:\n%q: %v %v\n%q: %v %v", data, parsed, problems, other, parsed2, problems2)
		}
	})
}
