package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzReadmeShellBlocks: every block the extractor returns is a run of the document's own lines, right after
// an opening ```sh fence, holding no closing fence; a document without "```" has no blocks.
func FuzzReadmeShellBlocks(f *testing.F) {
	f.Add("# t\n\n```sh\necho a\n```\ntext\n```go\nx\n```\n```sh\n\n# c\n```\n")
	f.Add("```sh\nunterminated")
	f.Add("```\n```sh\n```\n")
	f.Add("  ```sh\n  echo indented\n  ```")
	f.Fuzz(func(t *testing.T, doc string) {
		blocks, err := readmeShellBlocks(doc)
		if err != nil {
			if !strings.Contains(doc, "```") {
				t.Fatalf("error %v for a document without fences", err)
			}
			return
		}
		lines := strings.Split(doc, "\n")
		if !strings.Contains(doc, "```") && len(blocks) > 0 {
			t.Fatalf("%d blocks in a document without fences", len(blocks))
		}
		prevEnd := 0
		for _, b := range blocks {
			open := b.line - 2 // 0-based index of the opening fence
			if open < prevEnd || open >= len(lines) {
				t.Fatalf("block at line %d out of order or out of range", b.line)
			}
			if info := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[open]), "```")); !strings.HasPrefix(strings.TrimSpace(lines[open]), "```") || (info != "sh" && info != "bash" && info != "shell") {
				t.Fatalf("block at line %d does not follow a shell fence: %q", b.line, lines[open])
			}
			for i, l := range b.lines {
				if open+1+i >= len(lines) || lines[open+1+i] != l {
					t.Fatalf("block at line %d: line %d is not the document's", b.line, i)
				}
				if strings.TrimSpace(l) == "```" {
					t.Fatalf("block at line %d holds a closing fence", b.line)
				}
			}
			end := open + 1 + len(b.lines)
			if end >= len(lines) || strings.TrimSpace(lines[end]) != "```" {
				t.Fatalf("block at line %d does not end at a closing fence", b.line)
			}
			prevEnd = end + 1
		}
	})
}

// FuzzExpectComment: an accepted line is the command, blanks, "# " and a JSON object with members; the command
// is not a comment and does not continue on the next line.
func FuzzExpectComment(f *testing.F) {
	f.Add(`curl -s "$B/x"      # {"code":0,"msg":"success"}`)
	f.Add(`curl -s \ # {"a":1}`)
	f.Add(`# note # {"a":1}`)
	f.Add(`echo x # {}`)
	f.Add(`echo x # {"a":1} trailing`)
	f.Fuzz(func(t *testing.T, line string) {
		cmd, want, ok := expectComment(line)
		if !ok {
			if cmd != "" || want != "" {
				t.Fatalf("rejected line returned %q, %q", cmd, want)
			}
			return
		}
		if !strings.HasPrefix(line, cmd) || strings.TrimSpace(cmd) == "" {
			t.Fatalf("command %q is not the start of %q", cmd, line)
		}
		rest := strings.TrimLeft(line[len(cmd):], " \t")
		if !strings.HasPrefix(rest, "# ") || strings.TrimSpace(rest[2:]) != want {
			t.Fatalf("line %q is not command %q + '# ' + %q", line, cmd, want)
		}
		if strings.HasSuffix(cmd, "\\") || strings.HasPrefix(strings.TrimSpace(cmd), "#") {
			t.Fatalf("accepted a continued or commented command %q", cmd)
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(want), &obj); err != nil || len(obj) == 0 {
			t.Fatalf("accepted %q, not a JSON object with members", want)
		}
	})
}
