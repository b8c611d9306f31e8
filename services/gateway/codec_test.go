package gateway

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

func TestCodecMarshalEndsWithNewline(t *testing.T) {
	c := newCodec()
	b, err := c.Marshal(&registryv1.Tenant{TenantId: "t", Code: "acme"})
	if err != nil || !bytes.HasSuffix(b, []byte("}\n")) || bytes.Count(b, []byte("\n")) != 1 {
		t.Fatalf("Marshal = %q, %v", b, err)
	}
	var buf bytes.Buffer
	if err := c.NewEncoder(&buf).Encode(&registryv1.Tenant{Code: "a"}); err != nil || !strings.HasSuffix(buf.String(), "}\n") {
		t.Fatalf("Encode = %q, %v", buf.String(), err)
	}
}

func TestCodecDecode(t *testing.T) {
	c := newCodec()
	var s registryv1.ClientSecret
	err := c.NewDecoder(strings.NewReader(`{"description":"d","start time":"2030-01-01T00:00:00Z"}`)).Decode(&s)
	var fe *bodyFieldError
	if !errors.As(err, &fe) || fe.field != "start time" {
		t.Fatalf("Decode = %v, want the unknown field named", err)
	}
	if err := c.NewDecoder(strings.NewReader("")).Decode(&s); !errors.Is(err, io.EOF) {
		t.Fatalf("empty body = %v, want io.EOF (an empty request)", err)
	}
	if err := c.NewDecoder(strings.NewReader(`{"description":"d"}`)).Decode(&s); err != nil || s.GetDescription() != "d" {
		t.Fatalf("Decode = %v %v", err, &s)
	}
	if err := c.NewDecoder(strings.NewReader("{\"description\":\"d\"}\n\t ")).Decode(&s); err != nil {
		t.Fatalf("trailing white space: %v", err)
	}
	for _, body := range []string{`{"description":"d"} junk`, `{"description":"d"}{"description":"e"}`, `{} 1`, `{}]`} {
		if err := c.NewDecoder(strings.NewReader(body)).Decode(&s); !errors.Is(err, errTrailingData) {
			t.Errorf("%q: %v, want the trailing data refused", body, err)
		}
	}
}

// FuzzBodyFieldError: the error text carries the field through the generated handlers' status, so parsing
// inverts formatting for every field and reason, and whatever parses formats back to an equivalent text.
func FuzzBodyFieldError(f *testing.F) {
	f.Add("start time", "unknown field", "")
	f.Add(`a"b\`, ": x", bodyFieldErrorPrefix+`"x": y`)
	f.Add("", "", `request body: field 'x': y`)
	f.Fuzz(func(t *testing.T, field, reason, msg string) {
		e := &bodyFieldError{field: field, reason: reason}
		gf, gr, ok := parseBodyFieldError(e.Error())
		if !ok || gf != field || gr != reason {
			t.Fatalf("parse(%q) = %q %q %v", e.Error(), gf, gr, ok)
		}
		if gf, gr, ok := parseBodyFieldError(msg); ok {
			back := (&bodyFieldError{field: gf, reason: gr}).Error()
			if f2, r2, ok2 := parseBodyFieldError(back); !ok2 || f2 != gf || r2 != gr {
				t.Fatalf("parse(%q) = %q %q, which formats as %q", msg, gf, gr, back)
			}
		}
	})
}

// TestCodecDecodesIntoMessageField: routes with body: client decode into &req.Client, a pointer to a nil
// message pointer; that target is decoded strictly too.
func TestCodecDecodesIntoMessageField(t *testing.T) {
	c := newCodec()
	var req registryv1.CreateClientRequest
	err := c.NewDecoder(strings.NewReader(`{"clientId":"a","allowedScope":["x"]}`)).Decode(&req.Client)
	var fe *bodyFieldError
	if !errors.As(err, &fe) || fe.field != "allowedScope" {
		t.Fatalf("Decode = %v, want the unknown field named", err)
	}
	req.Client = nil
	if err := c.NewDecoder(strings.NewReader(`{"clientId":"a"}`)).Decode(&req.Client); err != nil || req.GetClient().GetClientId() != "a" {
		t.Fatalf("Decode = %v %v", err, req.GetClient())
	}
}
