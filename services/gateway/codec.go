package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/apistatus"
	"github.com/authsuite/authsuite/internal/strictjson"
)

// codec is the JSON marshaler of every grpc-gateway route: runtime.JSONPb with
//   - success bodies that end with a newline (as json.Encoder and most JSON APIs write them, so that curl
//     output ends its line);
//   - request bodies decoded strictly: a member that is no field of the request (a misspelt "start time",
//     "allowedScope") is refused with 400 invalid_request whose field names it, never dropped silently.
//
// Nothing is ignored on purpose: every member the documented bodies of the four dialects send is a field (docs/reference.md), and every field
// of our own GET answers is a field of the matching PUT body, so a client may GET an object, change one field
// and PUT it back.
type codec struct {
	pb runtime.JSONPb
}

func newCodec() *codec {
	return &codec{pb: runtime.JSONPb{
		// Fields at their default value are still written ("requireConsent": false); unset optional
		// fields (write-only password, absent refresh_token) are not.
		MarshalOptions: protojson.MarshalOptions{EmitDefaultValues: true},
	}}
}

// ContentType is application/json.
func (c *codec) ContentType(v any) string { return c.pb.ContentType(v) }

// Marshal writes v as JSONPb does, followed by a newline.
func (c *codec) Marshal(v any) ([]byte, error) {
	b, err := c.pb.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Delimiter separates streamed messages: nothing more, each Marshal already ends with a newline.
func (c *codec) Delimiter() []byte { return nil }

// NewEncoder writes each value as Marshal does.
func (c *codec) NewEncoder(w io.Writer) runtime.Encoder {
	return runtime.EncoderFunc(func(v any) error {
		b, err := c.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
}

// Unmarshal decodes data into v, refusing unknown members (see decode).
func (c *codec) Unmarshal(data []byte, v any) error { return c.decode(data, v) }

// NewDecoder reads one JSON value from r per Decode and decodes it like Unmarshal. An empty body is io.EOF,
// which the generated handlers take as an empty request.
func (c *codec) NewDecoder(r io.Reader) runtime.Decoder {
	d := json.NewDecoder(r)
	return runtime.DecoderFunc(func(v any) error {
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return err
		}
		// A body is one JSON value (RFC 8259 §2): `{…} junk` or two objects are refused, not cut short.
		var extra json.RawMessage
		if err := d.Decode(&extra); !errors.Is(err, io.EOF) {
			return errTrailingData
		}
		return c.decode(raw, v)
	})
}

// errTrailingData refuses a body holding more than one JSON value.
var errTrailingData = errors.New("the body must be a single JSON value, with nothing after it")

// decode decodes a protobuf message strictly: an unknown member is a *bodyFieldError naming it, which
// withBodyFieldErrors renders with the field. The target is a message, or a pointer to a message field
// (routes with body: client decode into &req.Client), allocated when nil; other targets (scalar fields) are
// decoded by JSONPb.
func (c *codec) decode(data []byte, v any) error {
	m, ok := asMessage(v)
	if !ok {
		return c.pb.Unmarshal(data, v)
	}
	if err := strictjson.Unmarshal(data, m); err != nil {
		var fe *apierror.FieldError
		if errors.As(err, &fe) {
			return &bodyFieldError{field: fe.Field, reason: fe.Reason}
		}
		return err
	}
	return nil
}

// asMessage returns the message v is or points to.
func asMessage(v any) (proto.Message, bool) {
	if m, ok := v.(proto.Message); ok {
		return m, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Pointer {
		return nil, false
	}
	field := rv.Elem()
	if _, ok := field.Interface().(proto.Message); !ok {
		return nil, false
	}
	if field.IsNil() {
		field.Set(reflect.New(field.Type().Elem()))
	}
	return field.Interface().(proto.Message), true
}

// bodyFieldError is a request body member the gateway refused. The generated handlers flatten a decoding
// error into the text of an INVALID_ARGUMENT status, so its Error text is the carrier: withBodyFieldErrors
// parses it back (parseBodyFieldError inverts Error for every field and reason).
type bodyFieldError struct {
	field, reason string
}

const bodyFieldErrorPrefix = "request body: field "

func (e *bodyFieldError) Error() string {
	return bodyFieldErrorPrefix + strconv.Quote(e.field) + ": " + e.reason
}

// parseBodyFieldError recovers the field and reason from a bodyFieldError's text.
func parseBodyFieldError(msg string) (field, reason string, ok bool) {
	rest, ok := strings.CutPrefix(msg, bodyFieldErrorPrefix)
	if !ok {
		return "", "", false
	}
	q, err := strconv.QuotedPrefix(rest)
	if err != nil || !strings.HasPrefix(q, `"`) {
		return "", "", false
	}
	if field, err = strconv.Unquote(q); err != nil {
		return "", "", false
	}
	reason, ok = strings.CutPrefix(rest[len(q):], ": ")
	return field, reason, ok
}

// withBodyFieldErrors turns a refused body member back into a field error (INVALID_ARGUMENT naming the
// field, as a service's validation failure) before next renders it, so the REST answer is 400
// invalid_request with "field" set. Only statuses without details are considered: a service's statuses
// always carry their details and are passed through unchanged.
func withBodyFieldErrors(next runtime.ErrorHandlerFunc) runtime.ErrorHandlerFunc {
	return func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
		if st, ok := status.FromError(err); ok && st.Code() == codes.InvalidArgument && len(st.Proto().GetDetails()) == 0 {
			if field, reason, ok := parseBodyFieldError(st.Message()); ok {
				err = apistatus.ToStatus(apierror.Invalid(field, "%s", reason))
			}
		}
		next(ctx, mux, m, w, r, err)
	}
}
