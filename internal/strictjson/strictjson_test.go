package strictjson_test

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/strictjson"
)

func TestUnknownFieldNamed(t *testing.T) {
	for _, tc := range []struct {
		msg        proto.Message
		body       string
		field      string // "" : accepted
		reasonHint string
	}{
		// The seed's parameter table spells the secret's start "start time".
		{&registryv1.ClientSecret{}, `{"description":"d","start time":"2030-01-01T00:00:00Z"}`, "start time", `did you mean "startTime"`},
		{&registryv1.ClientSecret{}, `{"description":"d","startTime":"2030-01-01T00:00:00Z"}`, "", ""},
		{&registryv1.Client{}, `{"clientId":"x","allowedScope":["openid"]}`, "allowedScope", `did you mean "allowedScopes"`},
		{&registryv1.Client{}, `{"clientId":"x","allowed_scopes":["openid"]}`, "", ""}, // the proto name, as protojson accepts
		{&registryv1.Client{}, `{"clientId":"x","nope":{"a":[1,{"b":2}]},"later":1}`, "nope", ""},
		{&registryv1.Client{}, `{"clientId":"x","start\u0020time":1}`, "start time", ""}, // escapes are decoded
		{&registryv1.Client{}, `{"clientId":"x","createTime":"2030-01-01T00:00:00Z","updateTime":null}`, "", ""},
		{&registryv1.ListClientsResponse{}, `{"items":[{"clientId":"a"},{"clientId":"b","secretz":1}]}`, "items[1].secretz", ""},
		// Free-form values (google.protobuf.Struct) are not searched.
		{&providerv1.LoadOAuthConfigurationRequest{}, `{"oauthConfigurations":{"github":{"p":{"CLIENT_ID":"x"}}}}`, "", ""},
		{&providerv1.LoadOAuthConfigurationRequest{}, `{"oauthConfiguration":{}}`, "oauthConfiguration", `did you mean "oauthConfigurations"`},
	} {
		err := strictjson.Unmarshal([]byte(tc.body), tc.msg)
		var fe *apierror.FieldError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.body, err)
		case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Reason, tc.reasonHint)):
			t.Errorf("%s: got %v, want a field error naming %q (%s)", tc.body, err, tc.field, tc.reasonHint)
		}
	}
}

// TestOtherErrorsAreProtojsons: syntax and type errors are left to protojson, and a refused body leaves the
// message unchanged.
func TestOtherErrorsAreProtojsons(t *testing.T) {
	for _, body := range []string{`{"clientId":`, `[1]`, `{"clientId":1}`, `{"clientId":"a"} x`, `{"clientId":"a","clientId":"b"}`} {
		c := &registryv1.Client{ClientName: "keep"}
		err := strictjson.Unmarshal([]byte(body), c)
		var fe *apierror.FieldError
		if err == nil || errors.As(err, &fe) {
			t.Errorf("%s: %v", body, err)
		}
	}
	c := &registryv1.Client{ClientName: "keep"}
	if err := strictjson.Unmarshal([]byte(`{"clientName":"x","bad":1}`), c); err == nil || c.GetClientName() != "keep" {
		t.Fatalf("refused body changed the message: %v %v", err, c)
	}
}

// FuzzUnknown checks Unknown against protojson: whenever it names a member, strict protojson refuses the
// body too, and the named member really occurs in the document; whenever it names none, strict protojson's
// error (if any) is not about an unknown field.
func FuzzUnknown(f *testing.F) {
	for _, s := range []string{
		`{"clientId":"x","allowedScope":["openid"]}`, `{"start time":1}`, `{"items":[{"a":1}]}`, `{"createTime":{"x":1}}`,
		`{"redirectUris":[{"x":1}]}`, `{"clientId":"\u0041"}`, `[]`, `{"client_id":"x"}`, `{"[ext]":1}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, m := range []proto.Message{&registryv1.Client{}, &registryv1.ListClientsResponse{}} {
			fe := strictjson.Unknown([]byte(body), m.ProtoReflect().Descriptor())
			perr := protojson.Unmarshal([]byte(body), proto.Clone(m))
			if fe != nil {
				if perr == nil {
					t.Fatalf("%q: Unknown named %q but protojson accepts the body", body, fe.Field)
				}
				last := fe.Field[strings.LastIndexAny(fe.Field, ".]")+1:]
				if !strings.Contains(body, last) && isPlain(last) {
					t.Fatalf("%q: named %q, which is not in the body", body, fe.Field)
				}
			} else if perr != nil && strings.Contains(perr.Error(), "unknown field") {
				t.Fatalf("%q: protojson refuses an unknown field (%v) that Unknown missed", body, perr)
			}
		}
	})
}

// isPlain: the name would appear verbatim in JSON (no escapes needed).
func isPlain(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == '"' || r == '\\' || r >= 0x7f {
			return false
		}
	}
	return true
}
