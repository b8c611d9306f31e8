package cli

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
)

// listFlag is a list given as comma-separated values, the flag repeatable: --scopes a,b --scopes c. An empty
// value ("") given alone clears the list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value.
func (l *listFlag) Set(v string) error {
	if *l == nil {
		*l = []string{}
	}
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

// secondsFlag is a lifetime in whole seconds, given as seconds ("3600") or a Go duration ("1h").
type secondsFlag int32

func (s *secondsFlag) String() string { return strconv.Itoa(int(*s)) }

// Set implements flag.Value.
func (s *secondsFlag) Set(v string) error {
	if n, err := strconv.ParseInt(v, 10, 32); err == nil {
		*s = secondsFlag(n)
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("want seconds or a duration such as 1h, got %q", apierror.Clip(v, 64))
	}
	if d%time.Second != 0 || d.Seconds() > math.MaxInt32 || d.Seconds() < math.MinInt32 {
		return fmt.Errorf("want whole seconds up to %d, got %s", math.MaxInt32, d)
	}
	*s = secondsFlag(d / time.Second)
	return nil
}

// timeFlag is an instant given in RFC 3339 or as a duration from now ("720h").
type timeFlag struct {
	t   time.Time
	now func() time.Time
}

func (f *timeFlag) String() string {
	if f == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

// Set implements flag.Value.
func (f *timeFlag) Set(v string) error {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		f.t = t
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("want an RFC 3339 time or a duration from now such as 720h, got %q", apierror.Clip(v, 64))
	}
	f.t = f.now().Add(d)
	return nil
}

// boolFlags registers bool flags by name, recording their values for given-only application.
type boolFlags map[string]*bool

func (b boolFlags) add(fs *flag.FlagSet, name, usage string) {
	v := new(bool)
	b[name] = v
	fs.BoolVar(v, name, false, usage)
}

// createID resolves the id a create command gives its new object. Every command names the object it acts
// on by a positional argument (tenant get ID, client create ID); create also takes the older --id flag, kept
// as a deprecated alias so that existing scripts keep working. Giving both with different values is a usage
// error naming --id.
func createID(arg, flagValue string, flagGiven bool) (string, error) {
	switch {
	case !flagGiven:
		return arg, nil
	case arg == "" || arg == flagValue:
		return flagValue, nil
	}
	return "", flagErr("--id", "%q differs from the argument %q: give the id once, as the argument", apierror.Clip(flagValue, 64), apierror.Clip(arg, 64))
}
