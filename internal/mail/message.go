// Package mail sends the short plain-text mails of self-service (password-reset and e-mail verification
// links) through a tenant's SMTP server (RFC 5321), and bounds how many are in flight (Outbox).
//
// A message is built by Build: RFC 5322 headers, a UTF-8 plain-text body in quoted-printable (RFC 2045
// §6.7), the subject in RFC 2047 encoded words when it is not plain ASCII. Nothing a caller passes can add a
// header: addresses and subjects with CR, LF or other control characters are refused.
package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of a message's parts.
const (
	// MaxSubjectBytes bounds a subject (UTF-8 bytes).
	MaxSubjectBytes = 256
	// MaxBodyBytes bounds a body (UTF-8 bytes).
	MaxBodyBytes = 64 << 10
	// MaxAddressBytes bounds an address (RFC 5321 §4.5.3.1.3: a path is at most 256 octets).
	MaxAddressBytes = 254
)

// Message is one plain-text mail to one recipient.
type Message struct {
	// From is the sender, "Name <addr@example.com>" or "addr@example.com".
	From string
	// To is the recipient's address (addr-spec, no display name).
	To string
	// Subject is the subject line (UTF-8, no control characters).
	Subject string
	// Body is the plain text (UTF-8); line ends may be LF or CRLF.
	Body string
	// Date is the Date header; zero: now.
	Date time.Time
}

// ErrInvalid is wrapped by every error of a message that cannot be built.
var ErrInvalid = errors.New("mail: invalid message")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// ParseAddress checks a recipient or sender address (RFC 5322 §3.4 addr-spec, ASCII only: no SMTPUTF8) and
// returns it parsed. An address with a control character (CR and LF included) is refused before parsing, so
// no address can carry a header or an SMTP command.
func ParseAddress(s string) (*mail.Address, error) {
	if s == "" || len(s) > 320 {
		return nil, invalid("the address is empty or too long")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return nil, invalid("the address contains a control character")
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, invalid("the address %q does not parse", clip(s))
	}
	if len(a.Address) > MaxAddressBytes {
		return nil, invalid("the address is longer than %d bytes", MaxAddressBytes)
	}
	for i := 0; i < len(a.Address); i++ {
		if c := a.Address[i]; c >= 0x80 || c <= 0x20 || c == 0x7f || c == '<' || c == '>' {
			return nil, invalid("the address %q has a character SMTP without SMTPUTF8 cannot carry", clip(s))
		}
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 || at == len(a.Address)-1 {
		return nil, invalid("the address %q has no domain", clip(s))
	}
	return a, nil
}

// checkSubject refuses a subject a header cannot carry as given.
func checkSubject(s string) error {
	if len(s) > MaxSubjectBytes {
		return invalid("the subject is longer than %d bytes", MaxSubjectBytes)
	}
	if !utf8.ValidString(s) {
		return invalid("the subject is not UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return invalid("the subject contains a control character")
		}
	}
	return nil
}

// Build returns m as an RFC 5322 message with CRLF line ends, and the envelope sender (the From address).
// Errors wrap ErrInvalid.
func Build(m Message) (msg []byte, envelopeFrom string, err error) {
	from, err := ParseAddress(m.From)
	if err != nil {
		return nil, "", fmt.Errorf("from: %w", err)
	}
	to, err := ParseAddress(m.To)
	if err != nil {
		return nil, "", fmt.Errorf("to: %w", err)
	}
	if to.Name != "" {
		return nil, "", invalid("to: give the address only")
	}
	if err := checkSubject(m.Subject); err != nil {
		return nil, "", err
	}
	if len(m.Body) > MaxBodyBytes || !utf8.ValidString(m.Body) {
		return nil, "", invalid("the body is not UTF-8 or longer than %d bytes", MaxBodyBytes)
	}
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	var b bytes.Buffer
	header := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	header("From", from.String()) // net/mail encodes a non-ASCII display name (RFC 2047)
	header("To", "<"+to.Address+">")
	header("Subject", encodeSubject(m.Subject))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", messageID(from.Address))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=UTF-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated") // RFC 3834 §5: no vacation replies to a robot
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(m.Body, "\r\n", "\n")
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, "", err
	}
	if err := qp.Close(); err != nil {
		return nil, "", err
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes(), from.Address, nil
}

// encodeSubject returns s as it may stand in a Subject header: as is when it is printable ASCII that no
// decoder would take for an encoded word, else as RFC 2047 "B" encoded words of at most 75 characters
// (§2), each on its own folded line (RFC 5322 §2.2.3), split between whole UTF-8 characters (§5 (3)).
func encodeSubject(s string) string {
	plain := !strings.Contains(s, "=?") && s == strings.TrimSpace(s)
	for i := 0; i < len(s) && plain; i++ {
		plain = s[i] >= 0x20 && s[i] < 0x7f
	}
	if plain {
		return s
	}
	const maxChunk = 45 // 45 bytes → 60 base64 characters → 72 with "=?UTF-8?B?" and "?="
	var words []string
	for len(s) > 0 {
		n := min(len(s), maxChunk)
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n--
		}
		words = append(words, "=?UTF-8?B?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return strings.Join(words, "\r\n ")
}

// messageID is a new globally unique Message-ID (RFC 5322 §3.6.4) in the sender's domain.
func messageID(fromAddr string) string {
	var r [16]byte
	rand.Read(r[:]) // never fails (crypto/rand)
	return "<" + hex.EncodeToString(r[:]) + "@" + fromAddr[strings.LastIndexByte(fromAddr, '@')+1:] + ">"
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
