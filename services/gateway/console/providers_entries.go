package console

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"

	"github.com/authsuite/authsuite/internal/apistatus"
)

// The per-entry result of a provider configuration load. The provider service parses and validates the
// file (all or nothing) and answers a refusal with one google.rpc.BadRequest violation per problem, named
// oauthConfigurations.<connector type>[.<provider name>[.<key>]]. The console lists the file's entries
// itself only to show every entry next to its problems, including the entries that had none and were not
// stored either: it decides nothing about the file.

// maxShownEntries bounds the entries and problems a load result lists.
const maxShownEntries = 500

// fileEntry is one (connector type, provider name) of a configuration file.
type fileEntry struct {
	Type, Name string
}

// fileEntries lists the entries of a configuration file in either shape the provider service accepts
// (RFC 8259 JSON: the wrapped {"oauthConfigurations": {<type>: {<name>: {...}}}} or the bare
// {<type>: {<name>: {...}}}), ordered by type and name as the API orders its items. It is a best effort
// for display: a document it cannot read (the API reports why) gives no entries, a type whose value is not
// an object gives an entry with an empty name. At most maxShownEntries entries.
func fileEntries(doc []byte) []fileEntry {
	var top map[string]json.RawMessage
	if json.Unmarshal(doc, &top) != nil {
		return nil
	}
	if inner, ok := top["oauthConfigurations"]; ok && len(top) == 1 {
		top = nil
		if json.Unmarshal(inner, &top) != nil {
			return nil
		}
	}
	var out []fileEntry
	for typ, raw := range top {
		var names map[string]json.RawMessage
		if json.Unmarshal(raw, &names) != nil || len(names) == 0 {
			out = append(out, fileEntry{Type: typ})
			continue
		}
		for name := range names {
			out = append(out, fileEntry{Type: typ, Name: name})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Name < out[j].Name
	})
	if len(out) > maxShownEntries {
		out = out[:maxShownEntries]
	}
	return out
}

// entryResult is one entry of a refused load with the API's problems about it.
type entryResult struct {
	Type, Name string
	Problems   []string
}

// loadRefusal is a refused load as the result page shows it.
type loadRefusal struct {
	Entries []entryResult // every entry of the file, refused ones with their problems
	File    []string      // problems about the file as a whole, or about entries the console could not place
}

// Refused counts the entries with problems.
func (r loadRefusal) Refused() int {
	n := 0
	for _, e := range r.Entries {
		if len(e.Problems) > 0 {
			n++
		}
	}
	return n
}

// groupProblems places each violation of a refused load under the file's entry its field names: the entry
// whose path (oauthConfigurations.<type>.<name>) is the longest prefix of the field, so a provider name
// holding a dot still finds its own entry. A violation about a whole connector type goes to every entry of
// that type; one that names no entry of the file (the document's syntax, an empty file) is a file problem.
func groupProblems(entries []fileEntry, vs []apistatus.Violation) loadRefusal {
	r := loadRefusal{Entries: make([]entryResult, len(entries))}
	for i, e := range entries {
		r.Entries[i] = entryResult{Type: e.Type, Name: e.Name}
	}
	for n, v := range vs {
		if n >= maxShownEntries {
			break
		}
		best, bestLen := -1, -1
		var typeLevel []int
		for i, e := range entries {
			typePath := "oauthConfigurations." + e.Type
			if e.Name != "" {
				p := typePath + "." + e.Name
				if (v.Field == p || strings.HasPrefix(v.Field, p+".")) && len(p) > bestLen {
					best, bestLen = i, len(p)
				}
			}
			if v.Field == typePath {
				typeLevel = append(typeLevel, i)
			}
		}
		switch {
		case best >= 0:
			r.Entries[best].Problems = append(r.Entries[best].Problems, v.Description)
		case len(typeLevel) > 0:
			for _, i := range typeLevel {
				r.Entries[i].Problems = append(r.Entries[i].Problems, v.Description)
			}
		default:
			r.File = append(r.File, v.Description)
		}
	}
	return r
}

// refusalOf reads the API's refusal of a load of doc: its violations placed per entry, or, for a refusal
// without violations (a syntax error, an empty document), its message as a file problem.
func refusalOf(doc []byte, err error) loadRefusal {
	info := apistatus.Of(err)
	entries := fileEntries(bytes.TrimSpace(doc))
	if len(info.Violations) == 0 {
		r := groupProblems(entries, nil)
		r.File = []string{ProblemsOf(err).Message}
		return r
	}
	return groupProblems(entries, info.Violations)
}
