package console

import (
	"net/http"
	"time"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The signing keys page: the token service's SigningKeyService, for system administrators (anyone else
// gets the API's refusal as the 403 page). It lists the next, current and retired keys and rotates now,
// after a confirmation; the rotation names the current key the page showed, so a repeated or concurrent
// request makes one new key.

func init() {
	Register("keys", func(m *Mux) {
		m.Get("/console/keys", listKeys)
		m.Get("/console/keys/rotate", confirmRotateKeys)
		m.Post("/console/keys/rotate", rotateKeys)
	})
}

func signingKeys(x *Ctx) tokenv1.SigningKeyServiceClient {
	return tokenv1.NewSigningKeyServiceClient(x.Token())
}

type keyRow struct {
	Kid, Alg, State           string
	Created, Retired, Expires string
}

func keyTime(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().UTC().Format(time.DateTime + " UTC")
}

func keyRowOf(k *tokenv1.SigningKey) keyRow {
	return keyRow{Kid: k.GetKid(), Alg: k.GetAlg(), State: k.GetState(), Created: keyTime(k.GetCreateTime()),
		Retired: keyTime(k.GetRetireTime()), Expires: keyTime(k.GetExpireTime())}
}

type keysData struct {
	Items  []keyRow
	Newest string // the newest key's kid: what a rotation replaces
}

// maxKeyRows bounds the list (the JWKS holds a handful of keys).
const maxKeyRows = 100

func loadKeys(x *Ctx) (*keysData, error) {
	resp, err := signingKeys(x).ListSigningKeys(x.API(), &tokenv1.ListSigningKeysRequest{})
	if err != nil {
		return nil, err
	}
	d := &keysData{}
	for i, k := range resp.GetItems() {
		if i == maxKeyRows {
			break
		}
		if i == 0 {
			d.Newest = k.GetKid()
		}
		d.Items = append(d.Items, keyRowOf(k))
	}
	return d, nil
}

// listKeys serves GET /console/keys.
func listKeys(x *Ctx) {
	d, err := loadKeys(x)
	if err != nil {
		x.Fail(err)
		return
	}
	x.Render(http.StatusOK, "keys", "Signing keys", d)
}

// confirmRotateKeys serves GET /console/keys/rotate: the confirmation, carrying the newest key's kid.
func confirmRotateKeys(x *Ctx) {
	d, err := loadKeys(x)
	if err != nil {
		x.Fail(err)
		return
	}
	x.Render(http.StatusOK, "keys-rotate", "Rotate the signing key", d)
}

// rotateKeys serves POST /console/keys/rotate: RotateSigningKey naming the key the confirmation showed.
func rotateKeys(x *Ctx) {
	resp, err := signingKeys(x).RotateSigningKey(x.API(), &tokenv1.RotateSigningKeyRequest{CurrentKid: x.Form().Get("currentKid")})
	if err != nil {
		d, lerr := loadKeys(x)
		if lerr != nil {
			x.Fail(lerr)
			return
		}
		x.Retry("keys", "Signing keys", d, err)
		return
	}
	msg := "New signing key " + resp.GetKey().GetKid() + " made; it signs once every replica has it."
	if !resp.GetRotated() {
		msg = "The key was already rotated: " + resp.GetKey().GetKid() + " replaces it."
	}
	x.Redirect(Prefix+"keys", msg)
}
