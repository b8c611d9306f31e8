package console

import (
	"net/http"
	"time"
)

// Flash messages survive one redirect in a short-lived sealed cookie (never in the URL, where a link could
// put words in the console's mouth).

const flashCookieName = "authsuite_console_flash"

func (c *Console) setFlash(w http.ResponseWriter, msg string) {
	if len(msg) > 500 {
		msg = msg[:500]
	}
	v, err := c.flashes.seal(flash{Msg: msg, Exp: c.now().Add(time.Minute)})
	if err != nil {
		return
	}
	c.setCookie(w, flashCookieName, v, time.Time{})
}

type flash struct {
	Msg string    `json:"flash"`
	Exp time.Time `json:"exp"`
}

// takeFlash returns the pending flash message, if any, and clears it.
func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(c.cookieName(flashCookieName))
	if err != nil {
		return ""
	}
	c.clearCookie(w, flashCookieName)
	var f flash
	if c.flashes.open(ck.Value, &f) != nil || !c.now().Before(f.Exp) {
		return ""
	}
	return f.Msg
}
