package layout

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// The repository documents itself under docs/ (docs/reference.md and docs/reference/*.md). Source comments
// cite those pages or the RFCs, never documents a reader of the repository does not have: the product
// contract the suite was first written against, the four source documents it was drawn from, the style notes
// and the tracker items a change was made for (the commit message is where a change says why).

// externalCitation matches a citation of those documents: "SPEC §2", "SPEC.md", "SPEC: …", "seed 003",
// "STYLE.md", "issue 8 item 3". The
// patterns are spelled with character classes so that this file does not match itself.
var externalCitation = regexp.MustCompile(`SPEC[ ]§|SPEC[.]md|\bSPEC[:]|STYLE[.]md|(?i)\bseeds?[ ]00[0-9]\b|\bissues?[ ][0-9]+[ ]items?\b`)

// docCitation matches a citation of a page under docs/, with an optional anchor:
// "docs/reference.md#sudo", "docs/reference/admin-api.md#client-fields".
var docCitation = regexp.MustCompile(`\bdocs/[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md(?:#[\p{L}\p{N}_-]+)?`)

// selfPath is this file, whose tests spell out the citations they must find.
const selfPath = "internal/layout/citations_test.go"

// sourceExts are the kinds of files whose comments are checked.
var sourceExts = []string{".go", ".proto", ".sh", ".yaml", ".yml"}

// repoRoot is the module root, two levels above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	return root
}

// sourceFiles returns every non-generated source file of the repository (relative, slash-separated paths):
// Go, proto, shell and YAML, outside gen/ (generated from proto/, which is checked), .git and testdata.
func sourceFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(path, root+string(filepath.Separator)))
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "node_modules":
				return filepath.SkipDir
			}
			if rel == "gen" {
				return filepath.SkipDir
			}
			return nil
		}
		if slices.Contains(sourceExts, filepath.Ext(path)) {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 100 {
		t.Fatalf("found only %d source files under %s", len(files), root)
	}
	return files
}

// TestNoExternalCitations fails when a source file cites the product contract or the source documents by
// section or number instead of docs/ or an RFC.
func TestNoExternalCitations(t *testing.T) {
	root := repoRoot(t)
	for _, rel := range sourceFiles(t, root) {
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		if rel == selfPath {
			continue // its tests spell the citations out
		}
		for i, line := range strings.Split(string(b), "\n") {
			if m := externalCitation.FindString(line); m != "" {
				t.Errorf("%s:%d cites %q, a document readers of the repository do not have: cite docs/reference.md (or a page under docs/reference/) or the RFC instead\n\t%s",
					rel, i+1, m, strings.TrimSpace(line))
			}
		}
	}
}

// TestDocCitationsResolve fails when a source file cites a page under docs/ that does not exist, or an anchor
// that is not a heading of that page (GitHub's anchor rules, see githubAnchor).
func TestDocCitationsResolve(t *testing.T) {
	root := repoRoot(t)
	anchors := map[string]map[string]bool{} // page → its anchors; nil when the page does not exist
	pageAnchors := func(page string) map[string]bool {
		if a, ok := anchors[page]; ok {
			return a
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(page)))
		if err != nil {
			anchors[page] = nil
			return nil
		}
		anchors[page] = headingAnchors(string(b))
		return anchors[page]
	}
	cited := 0
	for _, rel := range sourceFiles(t, root) {
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, c := range docCitation.FindAllString(line, -1) {
				cited++
				page, anchor, _ := strings.Cut(c, "#")
				a := pageAnchors(page)
				switch {
				case a == nil:
					t.Errorf("%s:%d cites %s, which does not exist", rel, i+1, page)
				case anchor != "" && !a[anchor]:
					t.Errorf("%s:%d cites %s, but %s has no heading with anchor #%s (headings: %s)", rel, i+1, c, page, anchor, sortedAnchors(a))
				}
			}
		}
	}
	if cited == 0 {
		t.Fatal("no source file cites docs/: the citation pattern is broken")
	}
}

// TestDocLinksResolve fails when a relative link between the reference pages under docs/ points at a missing
// page or anchor, so that a reader following the reference never lands on nothing.
func TestDocLinksResolve(t *testing.T) {
	root := repoRoot(t)
	pages := []string{"docs/reference.md"}
	more, _ := filepath.Glob(filepath.Join(root, "docs", "reference", "*.md"))
	for _, p := range more {
		pages = append(pages, filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator))))
	}
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, page := range pages {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(page)))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			dest := page
			if file != "" {
				dest = filepath.ToSlash(filepath.Join(filepath.Dir(page), file))
			}
			tb, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(dest)))
			if err != nil {
				t.Errorf("%s links to %s: %s does not exist", page, target, dest)
				continue
			}
			if anchor != "" && strings.HasSuffix(dest, ".md") && !headingAnchors(string(tb))[anchor] {
				t.Errorf("%s links to %s: %s has no heading with anchor #%s", page, target, dest, anchor)
			}
		}
	}
}

// headingAnchors returns the anchors GitHub gives the ATX headings of a Markdown page (outside fenced code),
// with "-1", "-2"… appended to repeated ones.
func headingAnchors(md string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	fenced := false
	for _, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		level := len(line) - len(strings.TrimLeft(line, "#"))
		if level > 6 || (len(line) > level && line[level] != ' ' && line[level] != '\t') {
			continue
		}
		a := githubAnchor(strings.TrimRight(strings.TrimSpace(line[level:]), "#"))
		if n := seen[a]; n > 0 {
			out[a+"-"+itoa(n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// inlineLink matches a Markdown inline link, [text](target).
var inlineLink = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)

// githubAnchor turns a heading's text into its anchor as GitHub renders it: inline code and emphasis markers
// and link targets dropped, lowercased, every character that is not a letter, a digit, a space, '-' or '_'
// removed, and spaces turned into '-'.
func githubAnchor(heading string) string {
	heading = inlineLink.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}

func sortedAnchors(a map[string]bool) string {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, "#"+k)
	}
	slices.Sort(keys)
	return strings.Join(keys, " ")
}

// TestGitHubAnchor pins the anchor rules on headings of the reference and GitHub's documented examples.
func TestGitHubAnchor(t *testing.T) {
	for heading, want := range map[string]string{
		"Sudo":                       "sudo",
		"Sign-in throttling":         "sign-in-throttling",
		"Lifetimes and defaults":     "lifetimes-and-defaults",
		"LoadOAuthConfiguration":     "loadoauthconfiguration",
		"Admin API: tenants, users":  "admin-api-tenants-users",
		"`client_id` and `scope`":    "client_id-and-scope",
		"See [errors](#errors) here": "see-errors-here",
		"Schütze 张三":                 "schütze-张三",
	} {
		if got := githubAnchor(heading); got != want {
			t.Errorf("githubAnchor(%q) = %q, want %q", heading, got, want)
		}
	}
	got := headingAnchors("# A\n## B\n```\n# not a heading\n```\n## B\n#no-space\n### C ###\n")
	want := map[string]bool{"a": true, "b": true, "b-1": true, "c": true}
	if len(got) != len(want) {
		t.Fatalf("headingAnchors = %v, want %v", got, want)
	}
	for k := range want {
		if !got[k] {
			t.Errorf("headingAnchors lacks %q: %v", k, got)
		}
	}
	for _, s := range []string{"SPEC §2", "see SPEC.md", "(SPEC: token)", "seed 003 §1.3.2", "Seed 000, troubleshooting", "STYLE.md", "(issue 8 item 21)", "issue 12 items 3, 4"} {
		if !externalCitation.MatchString(s) {
			t.Errorf("externalCitation misses %q", s)
		}
	}
	for _, s := range []string{"the seeds give the fuzzer", "seed corpus", "f.Add(seed)", "SPECIAL §3", "seed 0x10", "an issue with item 3", "STYLE"} {
		if externalCitation.MatchString(s) {
			t.Errorf("externalCitation matches %q, which cites nothing", s)
		}
	}
}

// FuzzGitHubAnchor checks the anchor rules on any heading: an anchor holds only lowercase letters, digits,
// '-' and '_'; computing it again changes nothing; every letter and digit of the heading outside link targets
// survives in order; and a docs citation built from it is matched whole by docCitation.
func FuzzGitHubAnchor(f *testing.F) {
	for _, s := range []string{"Sudo", "Sign-in throttling", "`client_id` and `scope`", "See [errors](#errors)", "Schütze 张三", "", "--", "a  b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, heading string) {
		if !utf8.ValidString(heading) || strings.ContainsAny(heading, "[]()") {
			t.Skip() // link syntax is exercised by TestGitHubAnchor
		}
		a := githubAnchor(heading)
		for _, r := range a {
			if !(r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) || unicode.IsUpper(r) && unicode.ToLower(r) != r {
				t.Fatalf("githubAnchor(%q) = %q holds %q", heading, a, r)
			}
		}
		if again := githubAnchor(a); again != a {
			t.Fatalf("githubAnchor is not idempotent: %q → %q → %q", heading, a, again)
		}
		var kept []rune
		for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				kept = append(kept, r)
			}
		}
		var inAnchor []rune
		for _, r := range a {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				inAnchor = append(inAnchor, r)
			}
		}
		if string(kept) != string(inAnchor) {
			t.Fatalf("githubAnchor(%q) = %q lost letters or digits: want %q", heading, a, string(kept))
		}
		if a != "" && strings.Trim(a, "-_") != "" {
			c := "docs/reference.md#" + a
			if got := docCitation.FindString("see " + c + " here"); got != c {
				t.Fatalf("docCitation found %q in a citation of %q", got, c)
			}
		}
	})
}
