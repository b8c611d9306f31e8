package registry

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxDNLen bounds a distinguished name's string form.
const MaxDNLen = 1024

// maxDNAttributes bounds the attribute type and value pairs of one name.
const maxDNAttributes = 64

// AttributeTypeAndValue is one attribute of a distinguished name (RFC 4514 §2.3): Type is its canonical
// type (a short name such as CN, or a dotted OID), Value the unescaped value, or for a value written in its
// BER form ("#" hexstring, RFC 4514 §2.4) the lowercase hex digits after "#" with Hex true.
type AttributeTypeAndValue struct {
	Type  string
	Value string
	Hex   bool
}

// dnTypeNames maps the attribute type names and OIDs RFC 4514 §3 lists (and those Go's crypto/x509 writes)
// to one canonical spelling, matched case-insensitively.
var dnTypeNames = map[string]string{
	"cn": "CN", "commonname": "CN", "2.5.4.3": "CN",
	"l": "L", "localityname": "L", "2.5.4.7": "L",
	"st": "ST", "stateorprovincename": "ST", "2.5.4.8": "ST",
	"o": "O", "organizationname": "O", "2.5.4.10": "O",
	"ou": "OU", "organizationalunitname": "OU", "2.5.4.11": "OU",
	"c": "C", "countryname": "C", "2.5.4.6": "C",
	"street": "STREET", "streetaddress": "STREET", "2.5.4.9": "STREET",
	"dc": "DC", "domaincomponent": "DC", "0.9.2342.19200300.100.1.25": "DC",
	"uid": "UID", "userid": "UID", "0.9.2342.19200300.100.1.1": "UID",
	"serialnumber": "SERIALNUMBER", "2.5.4.5": "SERIALNUMBER",
	"postalcode": "POSTALCODE", "2.5.4.17": "POSTALCODE",
}

// ParseDN parses the string form of a distinguished name (RFC 4514 §3) strictly: attribute types are
// names (a letter, then letters, digits and '-') or dotted OIDs without leading zeros; values are strings in
// which '"', '+', ',', ';', '<', '>' and '\' are escaped, as are a leading space or '#' and a trailing space
// (RFC 4514 §2.4), or '#' followed by hex pairs. Escaped hex pairs must form UTF-8. It returns the relative
// distinguished names in the order written, each with its attributes sorted, so that two spellings of one
// name give equal results. The empty string is the empty name. At most MaxDNLen bytes and 64 attributes.
func ParseDN(s string) ([][]AttributeTypeAndValue, error) {
	if len(s) > MaxDNLen {
		return nil, fmt.Errorf("longer than %d bytes", MaxDNLen)
	}
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("not valid UTF-8")
	}
	if s == "" {
		return nil, nil
	}
	var rdns [][]AttributeTypeAndValue
	var rdn []AttributeTypeAndValue
	n := 0
	for i := 0; ; {
		if n++; n > maxDNAttributes {
			return nil, fmt.Errorf("more than %d attributes", maxDNAttributes)
		}
		ava, next, err := parseAVA(s, i)
		if err != nil {
			return nil, err
		}
		rdn = append(rdn, ava)
		if next == len(s) {
			break
		}
		switch s[next] {
		case '+': // RFC 4514 §3: another attribute of the same RDN
		case ',':
			rdns = append(rdns, sortRDN(rdn))
			rdn = nil
		default:
			return nil, fmt.Errorf("unexpected %q at byte %d: special characters in values must be escaped with '\\'", s[next], next)
		}
		i = next + 1
	}
	return append(rdns, sortRDN(rdn)), nil
}

func sortRDN(rdn []AttributeTypeAndValue) []AttributeTypeAndValue {
	slices.SortFunc(rdn, func(a, b AttributeTypeAndValue) int {
		return strings.Compare(formatAVA(a), formatAVA(b))
	})
	return rdn
}

// parseAVA parses attributeType "=" attributeValue at s[i:] and returns where it ends.
func parseAVA(s string, i int) (AttributeTypeAndValue, int, error) {
	eq := strings.IndexByte(s[i:], '=')
	if eq < 0 {
		return AttributeTypeAndValue{}, 0, fmt.Errorf("missing '=' after byte %d", i)
	}
	typ, err := canonicalDNType(s[i : i+eq])
	if err != nil {
		return AttributeTypeAndValue{}, 0, err
	}
	i += eq + 1
	if i < len(s) && s[i] == '#' {
		j := i + 1
		for j < len(s) && isHexDigit(s[j]) {
			j++
		}
		digits := s[i+1 : j]
		if digits == "" || len(digits)%2 != 0 {
			return AttributeTypeAndValue{}, 0, fmt.Errorf("'#' at byte %d must be followed by hex pairs (a BER value); escape a leading '#' as '\\#'", i)
		}
		return AttributeTypeAndValue{Type: typ, Value: strings.ToLower(digits), Hex: true}, j, nil
	}
	var b strings.Builder
	start := i
	spaceLast := false // whether the value so far ends in an unescaped space
	for i < len(s) {
		c := s[i]
		switch c {
		case ',', '+':
			return finishValue(typ, b.String(), i, spaceLast)
		case '\\':
			if i+1 < len(s) && strings.IndexByte(`\\ #="+,;<>`, s[i+1]) >= 0 {
				b.WriteByte(s[i+1])
				i += 2
			} else if i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
				v, _ := hex.DecodeString(s[i+1 : i+3])
				b.WriteByte(v[0])
				i += 3
			} else {
				return AttributeTypeAndValue{}, 0, fmt.Errorf("invalid escape at byte %d", i)
			}
			spaceLast = false
			continue
		case '"', ';', '<', '>', 0:
			return AttributeTypeAndValue{}, 0, fmt.Errorf("%q at byte %d must be escaped", c, i)
		case ' ':
			if i == start {
				return AttributeTypeAndValue{}, 0, fmt.Errorf("a leading space at byte %d must be escaped", i)
			}
		}
		spaceLast = c == ' '
		b.WriteByte(c)
		i++
	}
	return finishValue(typ, b.String(), i, spaceLast)
}

func finishValue(typ, v string, end int, spaceLast bool) (AttributeTypeAndValue, int, error) {
	if spaceLast { // RFC 4514 §3 trailchar: a trailing space is written escaped
		return AttributeTypeAndValue{}, 0, fmt.Errorf("a trailing space before byte %d must be escaped", end)
	}
	if !utf8.ValidString(v) {
		return AttributeTypeAndValue{}, 0, fmt.Errorf("the value of %s is not UTF-8", typ)
	}
	return AttributeTypeAndValue{Type: typ, Value: v}, end, nil
}

// canonicalDNType checks an attributeType (RFC 4514 §3: descr or numericoid) and returns its canonical
// spelling: the short name of a known type, else an unknown name in upper case or the OID as written.
func canonicalDNType(t string) (string, error) {
	if t == "" {
		return "", fmt.Errorf("an attribute type is empty")
	}
	if len(t) > 128 {
		return "", fmt.Errorf("an attribute type is longer than 128 bytes")
	}
	if name, ok := dnTypeNames[strings.ToLower(t)]; ok {
		return name, nil
	}
	if isASCIILetter(t[0]) {
		for i := 1; i < len(t); i++ {
			if c := t[i]; !isASCIILetter(c) && !(c >= '0' && c <= '9') && c != '-' {
				return "", fmt.Errorf("attribute type %q: want a name (letters, digits, '-') or an OID", t)
			}
		}
		return strings.ToUpper(t), nil
	}
	for arc := range strings.SplitSeq(t, ".") {
		if arc == "" || strings.Trim(arc, "0123456789") != "" || len(arc) > 1 && arc[0] == '0' {
			return "", fmt.Errorf("attribute type %q: want a name (letters, digits, '-') or an OID", t)
		}
	}
	if !strings.Contains(t, ".") {
		return "", fmt.Errorf("attribute type %q: an OID has at least two arcs", t)
	}
	return t, nil
}

// FormatDN writes a parsed name in the string form of RFC 4514 §2: RDNs in order, separated by ',', the
// attributes of one RDN by '+', values escaped as §2.4 requires and nothing more.
func FormatDN(rdns [][]AttributeTypeAndValue) string {
	var b strings.Builder
	for i, rdn := range rdns {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, ava := range rdn {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(formatAVA(ava))
		}
	}
	return b.String()
}

func formatAVA(a AttributeTypeAndValue) string {
	if a.Hex {
		return a.Type + "=#" + a.Value
	}
	var b strings.Builder
	b.WriteString(a.Type)
	b.WriteByte('=')
	for i := 0; i < len(a.Value); i++ {
		c := a.Value[i]
		switch {
		case c == 0:
			b.WriteString(`\00`)
			continue
		case strings.IndexByte(`"+,;<>\`, c) >= 0,
			i == 0 && (c == ' ' || c == '#'),
			i == len(a.Value)-1 && c == ' ':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// CanonicalDN returns the canonical string form of a distinguished name (ParseDN, then FormatDN). Two names
// are the same subject exactly when their canonical forms are equal: attribute types compare by meaning
// (CN, cn, commonName and 2.5.4.3 are one type), values byte for byte after unescaping (so case matters),
// RDN order matters and the order of attributes within a multi-valued RDN does not. The token service
// compares a certificate's subject with a client's TLSClientAuthSubjectDN this way (RFC 8705 §2.1.2).
func CanonicalDN(s string) (string, error) {
	rdns, err := ParseDN(s)
	if err != nil {
		return "", err
	}
	return FormatDN(rdns), nil
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
