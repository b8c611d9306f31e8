package provider

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// WrapperKey is the key of the wrapped configuration file shape, {"oauthConfigurations": {...}}, as
// ThingWorx Composer's LoadOAuthConfiguration parameter names it.
const WrapperKey = "oauthConfigurations"

// DocumentError is a configuration file that is not one JSON object (RFC 8259) of the expected shape:
// Line and Column (1-based; the column counts characters, not bytes) point at the offending place, which is
// always inside the input or just after its last character.
type DocumentError struct {
	Line, Column int
	Reason       string
}

func (e *DocumentError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Reason)
}

// MaxDocumentDepth bounds the nesting of a configuration file; the deepest legitimate value (a header list
// inside an entry) is four levels down.
const MaxDocumentDepth = 32

// ParseDocument parses the bytes of a configuration file and validates it as ParseConfig does. Two shapes
// are accepted and mean the same thing:
//   - the wrapped one, {"oauthConfigurations": {<connector type>: {<provider name>: {...}}}}, as the REST
//     body of LoadOAuthConfiguration always looked;
//   - the bare one, {<connector type>: {<provider name>: {...}}}, as ThingWorx Flow's template and snippets print
//     it.
//
// An object whose only key is "oauthConfigurations" is the wrapped shape; an object that has that key
// next to other keys is refused (it is neither shape), and an empty object, wrapped or not, names no
// provider and is refused. A key given twice in one object (which encoding/json would silently resolve
// to its last value) is refused. A document that is not JSON, holds more than one value, or nests deeper
// than MaxDocumentDepth, is a *DocumentError naming the line and column; otherwise the entries and the
// problems are ParseConfig's. It never panics.
func ParseDocument(c Catalog, data []byte) ([]Parsed, []Problem, error) {
	doc, err := decodeDocument(data)
	if err != nil {
		return nil, nil, err
	}
	if m, ok := doc.(map[string]any); ok {
		if inner, ok := m[WrapperKey]; ok {
			if len(m) != 1 {
				return nil, []Problem{{Reason: fmt.Sprintf("must be either {%q: {<connector type>: ...}} or the bare {<connector type>: ...} object, not both: %q is not a connector type", WrapperKey, WrapperKey)}}, nil
			}
			doc = inner
		}
	}
	parsed, problems := ParseConfig(c, doc)
	return parsed, problems, nil
}

// ParseJSON parses a configuration file like ParseDocument, reporting a syntax error as a problem of the
// whole file.
func ParseJSON(c Catalog, data []byte) ([]Parsed, []Problem) {
	parsed, problems, err := ParseDocument(c, data)
	if err != nil {
		return nil, []Problem{{Reason: "is not valid JSON: " + err.Error()}}
	}
	return parsed, problems
}

// decodeDocument decodes exactly one JSON value, objects as map[string]any, numbers as json.Number,
// refusing duplicate keys, too deep nesting and trailing data with a positioned *DocumentError.
func decodeDocument(data []byte) (any, error) {
	d := &docDecoder{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	d.dec.UseNumber()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.lastStart() < int64(len(d.data)) {
		return nil, d.at(d.lastStart(), "data after the top-level JSON value")
	}
	return v, nil
}

type docDecoder struct {
	data []byte
	dec  *json.Decoder
}

// lastStart is the offset of the first non-space byte at or after the decoder's position: where the token
// it just read starts, or where the unexpected one does.
func (d *docDecoder) lastStart() int64 {
	off := d.dec.InputOffset()
	for off < int64(len(d.data)) && isSpace(d.data[off]) {
		off++
	}
	return off
}

// token reads the next token and returns the offset where it began.
func (d *docDecoder) token() (json.Token, int64, error) {
	sep := d.lastStart()
	start := sep // Token consumes a separating ',' or ':' itself
	if start < int64(len(d.data)) && (d.data[start] == ',' || d.data[start] == ':') {
		start++
		for start < int64(len(d.data)) && isSpace(d.data[start]) {
			start++
		}
	}
	t, err := d.dec.Token()
	if err == nil {
		return t, start, nil
	}
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return nil, start, d.wrap(err)
	}
	// A character that cannot come next is reported at its own offset; an error inside a value (a
	// literal, a string) at an offset relative to the decoder's buffer, so the value is scanned again on
	// its own, where the offset counts the bytes up to the offending one.
	if se.Offset == sep || se.Offset == start {
		return nil, start, d.at(se.Offset, se.Error())
	}
	var v any
	var inner *json.SyntaxError
	if errors.As(json.Unmarshal(d.data[start:], &v), &inner) {
		return nil, start, d.at(start+inner.Offset-1, se.Error())
	}
	return nil, start, d.at(start, se.Error())
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

func (d *docDecoder) value(depth int) (any, error) {
	t, start, err := d.token()
	if err != nil {
		return nil, err
	}
	delim, ok := t.(json.Delim)
	if !ok {
		return t, nil
	}
	if depth >= MaxDocumentDepth {
		return nil, d.at(start, fmt.Sprintf("nested deeper than %d levels", MaxDocumentDepth))
	}
	switch delim {
	case '{':
		m := map[string]any{}
		for d.dec.More() {
			kt, kstart, err := d.token()
			if err != nil {
				return nil, err
			}
			key, _ := kt.(string) // json.Decoder only yields string keys inside an object
			if _, dup := m[key]; dup {
				return nil, d.at(kstart, fmt.Sprintf("key %q is given twice in the same object", clipKey(key)))
			}
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[key] = v
		}
		if _, _, err := d.token(); err != nil {
			return nil, err
		}
		return m, nil
	default: // '['
		list := []any{}
		for d.dec.More() {
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		if _, _, err := d.token(); err != nil {
			return nil, err
		}
		return list, nil
	}
}

// wrap positions a decoder error: a syntax error at its offending byte, an early end at the end of input.
func (d *docDecoder) wrap(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		off := se.Offset - 1 // Offset counts the bytes read, the offending one included
		if off < 0 {
			off = 0
		}
		return d.at(off, se.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		if len(bytes.TrimSpace(d.data)) == 0 {
			return d.at(int64(len(d.data)), "the document is empty: want a JSON object")
		}
		return d.at(int64(len(d.data)), "unexpected end of the document")
	}
	return d.at(d.lastStart(), err.Error())
}

// at is a DocumentError at byte offset off (clamped to the input; len(data) is just after its end).
func (d *docDecoder) at(off int64, reason string) error {
	line, col := LineColumn(d.data, off)
	return &DocumentError{Line: line, Column: col, Reason: reason}
}

// LineColumn converts a byte offset of data (clamped to [0, len(data)]) to a 1-based line and a 1-based
// column counted in characters (invalid UTF-8 bytes count one each). Lines end at "\n".
func LineColumn(data []byte, off int64) (line, col int) {
	off = max(0, min(off, int64(len(data))))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return line, 1 + utf8.RuneCount(before[lineStart:])
}

func clipKey(s string) string {
	if len(s) <= 64 {
		return s
	}
	for i := 64; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}
