package server

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// settingsOnly answers GetSignInSettings from a function; other factor RPCs are not used by pageContext.
type settingsOnly struct {
	registryv1.FactorInternalServiceClient
	get   func(tenantID string) (*registryv1.SignInSettings, error)
	calls atomic.Int32
}

func (f *settingsOnly) GetSignInSettings(_ context.Context, req *registryv1.GetSignInSettingsRequest, _ ...grpc.CallOption) (*registryv1.GetSignInSettingsResponse, error) {
	f.calls.Add(1)
	st, err := f.get(req.GetTenantId())
	if err != nil {
		return nil, err
	}
	return &registryv1.GetSignInSettingsResponse{Settings: st}, nil
}

func pageContextServer(f registryv1.FactorInternalServiceClient, log *bytes.Buffer) *Server {
	return &Server{settings: newSignInSettingsCache(f, time.Now), log: slog.New(slog.NewTextHandler(log, nil))}
}

func TestPageContextBranding(t *testing.T) {
	f := &settingsOnly{get: func(id string) (*registryv1.SignInSettings, error) {
		switch id {
		case "t-branded":
			return &registryv1.SignInSettings{TenantId: id, TenantName: "Acme", DefaultLocale: "zh-Hant",
				Branding: &registryv1.TenantBranding{DisplayName: "Acme Portal", LogoDataUri: "data:image/png;base64,AAAA", PrimaryColor: "#112233"}}, nil
		case "t-plain":
			return &registryv1.SignInSettings{TenantId: id, TenantName: "Plain"}, nil
		}
		return nil, status.Error(codes.NotFound, "no such tenant")
	}}
	var log bytes.Buffer
	s := pageContextServer(f, &log)
	ctx := context.Background()

	pc := s.pageContext(ctx, "t-branded", []string{"zh-TW", "en"})
	if pc.GetBrandName() != "Acme Portal" || pc.GetLogoDataUri() != "data:image/png;base64,AAAA" ||
		pc.GetPrimaryColor() != "#112233" || pc.GetDefaultLocale() != "zh-Hant" || pc.GetTenantId() != "t-branded" {
		t.Fatalf("branded: %v", pc)
	}
	if got := strings.Join(pc.GetUiLocales(), " "); got != "zh-TW en" {
		t.Fatalf("ui_locales %q", got)
	}
	pc = s.pageContext(ctx, "t-plain", nil)
	if pc.GetBrandName() != "Plain" || pc.GetLogoDataUri() != "" || pc.GetDefaultLocale() != "en" {
		t.Fatalf("plain: brand name must fall back to the tenant's name, locale to en: %v", pc)
	}
	// A registry failure gives the defaults and one log line, however many pages are rendered.
	pageContextLogged.Store(0)
	for range 3 {
		pc = s.pageContext(ctx, "t-missing", []string{"en"})
		if pc.GetBrandName() != "" || pc.GetDefaultLocale() != "en" || pc.GetTenantId() != "t-missing" {
			t.Fatalf("failure must give defaults: %v", pc)
		}
	}
	if n := strings.Count(log.String(), "did not answer"); n != 1 {
		t.Fatalf("logged %d times, want once:\n%s", n, log.String())
	}
	// No tenant: no registry call.
	before := f.calls.Load()
	if pc = s.pageContext(ctx, "", nil); pc.GetDefaultLocale() != "en" || f.calls.Load() != before {
		t.Fatalf("empty tenant: %v, calls %d→%d", pc, before, f.calls.Load())
	}
}

func TestPageContextWithoutFactors(t *testing.T) {
	var log bytes.Buffer
	pc := pageContextServer(nil, &log).pageContext(context.Background(), "t1", []string{"zh-CN"})
	if pc.GetDefaultLocale() != "en" || pc.GetBrandName() != "" || len(pc.GetUiLocales()) != 1 {
		t.Fatalf("%v", pc)
	}
}

func TestValidUILocales(t *testing.T) {
	long := "en-" + strings.Repeat("a", 33) // 36 bytes
	in := []string{"zh-TW", "", "en_US", "-en", "en-", "en--US", "<script>", long, "zh-Hant-TW", "x-private"}
	got := strings.Join(validUILocales(in), " ")
	if got != "zh-TW zh-Hant-TW x-private" {
		t.Fatalf("validUILocales = %q", got)
	}
	many := make([]string, 50)
	for i := range many {
		many[i] = "en"
	}
	if n := len(validUILocales(many)); n != maxUILocales {
		t.Fatalf("kept %d tags, want %d", n, maxUILocales)
	}
	if validUILocales(nil) != nil {
		t.Fatal("nil in, nil out")
	}
}

// FuzzValidUILocales checks that whatever the request says, the page context carries at most maxUILocales
// tags, each at most maxUILocaleBytes of letters, digits and single hyphens, which x/text parses.
func FuzzValidUILocales(f *testing.F) {
	for _, s := range []string{"zh-TW en", "en_US", "x-private zh", "a-b-c-d-e-f-g", "en-" + strings.Repeat("a", 40), "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := validUILocales(strings.Fields(s))
		if len(out) > maxUILocales {
			t.Fatalf("%d tags", len(out))
		}
		for _, tag := range out {
			if len(tag) == 0 || len(tag) > maxUILocaleBytes || strings.Contains(tag, "--") || tag[0] == '-' || tag[len(tag)-1] == '-' {
				t.Fatalf("kept %q", tag)
			}
			for _, c := range tag {
				if !(c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
					t.Fatalf("kept %q", tag)
				}
			}
			if !strings.Contains(" "+s+" ", " "+tag+" ") && !strings.Contains(s, tag) {
				t.Fatalf("invented %q", tag)
			}
		}
	})
}
