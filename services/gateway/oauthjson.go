package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// oauthProtoJSON is the first step of marshalOAuthJSON: every field under its json_name, fields at their
// default value written too (introspection's "active": false), unset optional fields left out.
var oauthProtoJSON = protojson.MarshalOptions{EmitDefaultValues: true}

// marshalOAuthJSON renders m as an OAuth 2.0 / OpenID Connect JSON object. It is protojson's rendering
// with one difference: 64-bit integer fields (int64, sint64, sfixed64, uint64, fixed64), at any depth, are
// JSON numbers. The proto3 JSON mapping writes them as strings, but OAuth bodies define them as numbers:
// RFC 7662 §2.2 exp, iat and nbf ("integer timestamp"), OIDC Core §5.1 updated_at ("JSON number"), and typed
// clients (go-oidc, x/oauth2, oauth2-proxy) refuse a string there. Every field of m is kept, so a claim
// added to a response message later is written without touching this code, except introspection's
// "audiences", which becomes "aud" (see audienceFields), empty lists, which are left out, and userinfo's
// "claims" map, whose entries are written as members (isClaimsMap).
//
// Messages of strings, booleans and integers, possibly nested in plain messages (introspection with its cnf
// and act chain, userinfo: the token-checking path), are written directly by appendFlat, about ten times
// faster than the protojson round trip it replaces; anything else takes the general path. Both write the
// same members with the same values.
func marshalOAuthJSON(m proto.Message) ([]byte, error) {
	if b, ok := appendFlat(make([]byte, 0, 256), m.ProtoReflect()); ok {
		return b, nil
	}
	return marshalOAuthJSONGeneral(m)
}

// marshalOAuthJSONGeneral is marshalOAuthJSON for any message: protojson, then numeric64, then the audience
// rule (audienceFields), empty lists dropped and the claims map flattened (applyListsAndClaims).
func marshalOAuthJSONGeneral(m proto.Message) ([]byte, error) {
	b, err := oauthProtoJSON.Marshal(m)
	if err != nil {
		return nil, err
	}
	fixed, err := numeric64(b, m.ProtoReflect().Descriptor())
	if err != nil {
		return nil, err
	}
	fixed, err = applyAudience(fixed, m.ProtoReflect())
	if err != nil {
		return nil, err
	}
	return applyListsAndClaims(fixed, m.ProtoReflect())
}

// writeOAuthJSON answers 200 with m rendered by marshalOAuthJSON.
func writeOAuthJSON(w http.ResponseWriter, m proto.Message) error {
	b, err := marshalOAuthJSON(m)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	return nil
}

// is64 reports whether protojson writes the field's scalar values as quoted decimal strings.
func is64(fd protoreflect.FieldDescriptor) bool {
	switch fd.Kind() {
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return true
	}
	return false
}

var errNot64 = errors.New("oauth json: a 64-bit field is not a decimal string")

// numeric64 rewrites the protojson object raw of a message of type md: each 64-bit integer value becomes a
// JSON number, recursing into nested messages (singular, repeated and map values). Well-known types
// (Timestamp, Duration, wrappers, Struct) have their own JSON forms and are left as protojson wrote them.
func numeric64(raw json.RawMessage, md protoreflect.MessageDescriptor) (json.RawMessage, error) {
	if md.FullName().Parent() == "google.protobuf" {
		return raw, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	changed := false
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		v, ok := obj[fd.JSONName()]
		if !ok {
			continue
		}
		nv, err := numericValue(v, fd)
		if err != nil {
			return nil, err
		}
		obj[fd.JSONName()] = nv
		changed = true
	}
	if !changed {
		return raw, nil
	}
	return json.Marshal(obj)
}

// numericValue rewrites the JSON value v of field fd (see numeric64).
func numericValue(v json.RawMessage, fd protoreflect.FieldDescriptor) (json.RawMessage, error) {
	elem := fd
	if fd.IsMap() {
		elem = fd.MapValue()
	}
	if !is64(elem) && elem.Kind() != protoreflect.MessageKind && elem.Kind() != protoreflect.GroupKind {
		return v, nil
	}
	one := func(e json.RawMessage) (json.RawMessage, error) {
		if is64(elem) {
			return unquote64(e)
		}
		return numeric64(e, elem.Message())
	}
	switch {
	case fd.IsMap():
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v, &m); err != nil {
			return nil, err
		}
		for k, e := range m {
			ne, err := one(e)
			if err != nil {
				return nil, err
			}
			m[k] = ne
		}
		return json.Marshal(m)
	case fd.IsList():
		var l []json.RawMessage
		if err := json.Unmarshal(v, &l); err != nil {
			return nil, err
		}
		for i, e := range l {
			ne, err := one(e)
			if err != nil {
				return nil, err
			}
			l[i] = ne
		}
		return json.Marshal(l)
	}
	return one(v)
}

// unquote64 turns protojson's "123" into 123. Only a quoted base-10 integer that fits 64 bits is accepted,
// so the result is always a valid JSON number.
func unquote64(v json.RawMessage) (json.RawMessage, error) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil || s == "" || s[0] == '+' {
		return nil, errNot64
	}
	if _, err := strconv.ParseInt(s, 10, 64); err != nil {
		if _, err := strconv.ParseUint(s, 10, 64); err != nil {
			return nil, errNot64
		}
	}
	return json.RawMessage(s), nil
}

// maxFlatDepth bounds the nesting appendFlat follows (act chains nest one level per delegation); deeper
// messages take the general path.
const maxFlatDepth = 32

// appendFlat appends m as a JSON object when every field of m is a string, bool or integer, singular or
// repeated, or a singular message (not a well-known type) of such fields, to maxFlatDepth, or the top-level
// claims map (isClaimsMap); it reports false (and appends nothing useful) otherwise. The members are those
// protojson writes with EmitDefaultValues — an optional field or a message only when set, a non-empty list,
// any other field always — under their JSON names, with 64-bit integers as numbers, the audience rule of
// audienceFields applied to the top-level message, and the claims map's entries as members.
func appendFlat(b []byte, m protoreflect.Message) ([]byte, bool) {
	aud, audiences := audienceFields(m.Descriptor())
	return appendFlatDepth(b, m, aud, audiences, 0)
}

func appendFlatDepth(b []byte, m protoreflect.Message, aud, audiences protoreflect.FieldDescriptor, depth int) ([]byte, bool) {
	if depth > maxFlatDepth {
		return nil, false
	}
	fields := m.Descriptor().Fields()
	b = append(b, '{')
	first := true
	var claims protoreflect.FieldDescriptor
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.IsMap() {
			if depth > 0 || !isClaimsMap(fd) {
				return nil, false
			}
			claims = fd
			continue
		}
		isMsg := fd.Kind() == protoreflect.MessageKind
		if isMsg && (fd.IsList() || fd.Message().FullName().Parent() == "google.protobuf") {
			return nil, false
		}
		if !isMsg && !flatKind(fd.Kind()) {
			return nil, false // decided by the type, not by which fields this value sets
		}
		if fd == audiences {
			continue // written as aud
		}
		if fd == aud {
			if l := m.Get(audiences).List(); l.Len() > 0 {
				b = appendMember(b, fd, &first)
				b = appendAudience(b, l)
				continue
			}
		}
		if !fd.IsList() && fd.HasPresence() && !m.Has(fd) || fd.IsList() && m.Get(fd).List().Len() == 0 {
			continue
		}
		b = appendMember(b, fd, &first)
		switch {
		case isMsg:
			var ok bool
			if b, ok = appendFlatDepth(b, m.Get(fd).Message(), nil, nil, depth+1); !ok {
				return nil, false
			}
		case fd.IsList():
			l := m.Get(fd).List()
			b = append(b, '[')
			for j := 0; j < l.Len(); j++ {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendScalar(b, fd.Kind(), l.Get(j))
			}
			b = append(b, ']')
		default:
			b = appendScalar(b, fd.Kind(), m.Get(fd))
		}
	}
	if claims != nil {
		mp := m.Get(claims).Map()
		keys := make([]string, 0, mp.Len())
		mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
			if fields.ByJSONName(k.String()) == nil {
				keys = append(keys, k.String())
			}
			return true
		})
		slices.Sort(keys)
		for _, k := range keys {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, mp.Get(protoreflect.ValueOfString(k).MapKey()).String())
		}
	}
	return append(b, '}'), true
}

// isClaimsMap reports whether fd is a map<string, string> field named "claims": further claims of a
// response (userinfo's mapped and static claims) written as top-level members of the object, never one
// that a field of the message writes, instead of as a nested object.
func isClaimsMap(fd protoreflect.FieldDescriptor) bool {
	return fd.IsMap() && fd.JSONName() == "claims" && fd.MapKey().Kind() == protoreflect.StringKind &&
		fd.MapValue().Kind() == protoreflect.StringKind
}

// applyListsAndClaims is the general path's part of two rules appendFlat applies: an empty list is not
// written (an OAuth body gains nothing from []), and a claims map (isClaimsMap) of the top-level message is
// written as its own members.
func applyListsAndClaims(raw []byte, m protoreflect.Message) ([]byte, error) {
	fields := m.Descriptor().Fields()
	var obj map[string]json.RawMessage
	changed := false
	decode := func() error {
		if obj == nil {
			return json.Unmarshal(raw, &obj)
		}
		return nil
	}
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		switch {
		case fd.IsList() && m.Get(fd).List().Len() == 0:
			if err := decode(); err != nil {
				return nil, err
			}
			delete(obj, fd.JSONName())
			changed = true
		case isClaimsMap(fd):
			if err := decode(); err != nil {
				return nil, err
			}
			delete(obj, fd.JSONName())
			changed = true
			var err error
			m.Get(fd).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				if fields.ByJSONName(k.String()) != nil {
					return true
				}
				var b []byte
				if b, err = json.Marshal(v.String()); err != nil {
					return false
				}
				obj[k.String()] = b
				return true
			})
			if err != nil {
				return nil, err
			}
		}
	}
	if !changed {
		return raw, nil
	}
	return json.Marshal(obj)
}

// appendMember appends the separator (unless *first) and the member name of fd.
func appendMember(b []byte, fd protoreflect.FieldDescriptor, first *bool) []byte {
	if !*first {
		b = append(b, ',')
	}
	*first = false
	b = appendJSONString(b, fd.JSONName())
	return append(b, ':')
}

// appendScalar appends v, a value of the flat kind k.
func appendScalar(b []byte, k protoreflect.Kind, v protoreflect.Value) []byte {
	switch k {
	case protoreflect.StringKind:
		return appendJSONString(b, v.String())
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.AppendInt(b, v.Int(), 10)
	}
	return strconv.AppendUint(b, v.Uint(), 10)
}

// appendAudience appends a non-empty audience list as RFC 7519 §4.1.3 allows and RFC 7662 §2.2 uses: a
// single string for one audience, an array of strings for several.
func appendAudience(b []byte, l protoreflect.List) []byte {
	if l.Len() == 1 {
		return appendJSONString(b, l.Get(0).String())
	}
	b = append(b, '[')
	for j := 0; j < l.Len(); j++ {
		if j > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, l.Get(j).String())
	}
	return append(b, ']')
}

// audienceFields returns the fields of md the audience rule applies to: a singular string field named
// "aud" and a repeated string field named "audiences" (introspection's answer). When md has both, the
// rendering has no "audiences" member, and "aud" is written from audiences when the list is not empty (a
// string for one, an array for several, RFC 7662 §2.2 / RFC 7519 §4.1.3), from aud otherwise. Both are nil
// for any other message.
func audienceFields(md protoreflect.MessageDescriptor) (aud, audiences protoreflect.FieldDescriptor) {
	fields := md.Fields()
	a, l := fields.ByJSONName("aud"), fields.ByJSONName("audiences")
	if a == nil || l == nil || a.IsList() || a.Kind() != protoreflect.StringKind || !l.IsList() || l.Kind() != protoreflect.StringKind {
		return nil, nil
	}
	return a, l
}

// applyAudience applies the audience rule of audienceFields to raw, the JSON object of m.
func applyAudience(raw []byte, m protoreflect.Message) ([]byte, error) {
	aud, audiences := audienceFields(m.Descriptor())
	if aud == nil {
		return raw, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	delete(obj, audiences.JSONName())
	if l := m.Get(audiences).List(); l.Len() > 0 {
		obj[aud.JSONName()] = appendAudience(nil, l)
	}
	return json.Marshal(obj)
}

// flatKind reports whether appendFlat writes values of kind k.
func flatKind(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.StringKind, protoreflect.BoolKind,
		protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return true
	}
	return false
}

// appendJSONString appends s as a JSON string (RFC 8259 §7): quotation mark, reverse solidus and control
// characters escaped, everything else (valid UTF-8, as protobuf strings are) as is; like protojson, '<', '>'
// and '&' are not escaped. Invalid UTF-8 becomes U+FFFD, so the output is always valid JSON text.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}
