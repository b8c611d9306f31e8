// Package strictjson decodes the JSON form of protobuf messages (protojson) refusing members that are no
// field of the message, and names the first such member. protojson itself refuses them too, but its error
// text quotes the member as it was spelt in the document (escapes included) after a line:column position;
// this package reports the member's path the way REST errors name fields ("start time",
// "redirectUris[1]", "settings.clientId") so that callers can answer with the field.
//
// Nothing is ignored on purpose: a body that names a member the message does not model is refused, never
// trimmed.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/authsuite/authsuite/internal/apierror"
)

// maxDepth bounds how deep the search for unknown members follows nested messages; deeper members are left
// to protojson, which refuses unknown ones too (with its own error text).
const maxDepth = 32

// Unmarshal decodes data into m like protojson.Unmarshal with unknown fields refused. When data is
// syntactically JSON and a member is no field of its message, it returns an *apierror.FieldError whose
// Field is that member's path (JSON names as sent, "a.b", "a[2].b") and m is left unchanged; any other
// problem is protojson's error. It never panics.
func Unmarshal(data []byte, m proto.Message) error {
	if fe := Unknown(data, m.ProtoReflect().Descriptor()); fe != nil {
		return fe
	}
	return protojson.UnmarshalOptions{}.Unmarshal(data, m)
}

// Unknown returns an *apierror.FieldError naming the first member (in document order) of the JSON object
// data that is no field of md, or nil when there is none or data is not valid JSON (protojson then reports
// the syntax error). A field is known by its JSON name or its proto name, as protojson accepts both. Members
// inside well-known types (google.protobuf.Struct, Any, Timestamp…) are not searched: they carry free-form
// or specially encoded values.
func Unknown(data []byte, md protoreflect.MessageDescriptor) *apierror.FieldError {
	w := walker{dec: json.NewDecoder(bytes.NewReader(data))}
	w.dec.UseNumber()
	path, err := w.value(md, "", 0)
	if err != nil || !w.found {
		return nil
	}
	return &apierror.FieldError{Field: path, Reason: w.reason}
}

type walker struct {
	dec    *json.Decoder
	found  bool // an unknown member was found (its path may be "", the empty name)
	reason string
}

var errSyntax = errors.New("not JSON")

func (w *walker) token() (json.Token, error) {
	t, err := w.dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, errSyntax
		}
		return nil, err
	}
	return t, nil
}

// value reads one JSON value that should hold message md (nil: anything) and returns the path of the first
// unknown member in it, or "".
func (w *walker) value(md protoreflect.MessageDescriptor, path string, depth int) (string, error) {
	t, err := w.token()
	if err != nil {
		return "", err
	}
	if t != json.Delim('{') || md == nil || opaque(md) || depth >= maxDepth {
		return "", w.skip(t)
	}
	fields := md.Fields()
	for w.dec.More() {
		kt, err := w.token()
		if err != nil {
			return "", err
		}
		name, ok := kt.(string)
		if !ok {
			return "", errSyntax
		}
		p := name
		if path != "" {
			p = path + "." + name
		}
		fd := fields.ByJSONName(name)
		if fd == nil {
			fd = fields.ByTextName(name)
		}
		if fd == nil {
			if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "]") && md.ExtensionRanges().Len() > 0 {
				// An extension: protojson resolves it against the registry and reports what it cannot.
				if _, err := w.value(nil, p, depth+1); err != nil {
					return "", err
				}
				continue
			}
			w.found, w.reason = true, "unknown field"+suggestion(name, fields)
			return p, nil
		}
		if q, err := w.field(fd, p, depth+1); w.found || err != nil {
			return q, err
		}
	}
	_, err = w.token() // '}'
	return "", err
}

// field reads the value of fd.
func (w *walker) field(fd protoreflect.FieldDescriptor, path string, depth int) (string, error) {
	switch {
	case fd.IsList():
		t, err := w.token()
		if err != nil {
			return "", err
		}
		if t != json.Delim('[') {
			return "", w.skip(t) // null, or a type mismatch protojson reports
		}
		for i := 0; w.dec.More(); i++ {
			if q, err := w.value(fd.Message(), fmt.Sprintf("%s[%d]", path, i), depth); w.found || err != nil {
				return q, err
			}
		}
		_, err = w.token()
		return "", err
	case fd.IsMap():
		t, err := w.token()
		if err != nil {
			return "", err
		}
		if t != json.Delim('{') {
			return "", w.skip(t)
		}
		for w.dec.More() {
			kt, err := w.token()
			if err != nil {
				return "", err
			}
			k, ok := kt.(string)
			if !ok {
				return "", errSyntax
			}
			if q, err := w.value(fd.MapValue().Message(), path+"."+k, depth); w.found || err != nil {
				return q, err
			}
		}
		_, err = w.token()
		return "", err
	}
	return w.value(fd.Message(), path, depth)
}

// skip consumes the rest of the value that began with t.
func (w *walker) skip(t json.Token) error {
	if t != json.Delim('{') && t != json.Delim('[') {
		return nil
	}
	for depth := 1; depth > 0; {
		t, err := w.token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// opaque reports whether md is a well-known type, whose JSON form is not an object of its fields.
func opaque(md protoreflect.MessageDescriptor) bool {
	return md.ParentFile() != nil && md.ParentFile().Package() == "google.protobuf"
}

// suggestion names the field name was probably meant to be: the one that is equal ignoring case, spaces,
// '_' and '-' ("start time" → startTime), or a plural 's' ("allowedScope" → allowedScopes).
func suggestion(name string, fields protoreflect.FieldDescriptors) string {
	want := fold(name)
	if want == "" {
		return ""
	}
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if f := fold(fd.JSONName()); f == want || f == want+"s" || f+"s" == want {
			return fmt.Sprintf(" (did you mean %q?)", fd.JSONName())
		}
	}
	return ""
}

func fold(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}
