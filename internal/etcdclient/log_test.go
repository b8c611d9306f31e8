package etcdclient

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// The etcd client's warnings and errors reach the process's log with their fields; its info and debug lines
// do not.
func TestClientLogToSlog(t *testing.T) {
	var buf bytes.Buffer
	lg := zapToSlog(slog.New(slog.NewTextHandler(&buf, nil))).With(zap.String("endpoint", "http://e1:2379"))
	lg.Debug("debug line")
	lg.Info("info line")
	lg.Warn("retrying of unary invoker failed", zap.Int("attempt", 2))
	lg.Error("lease keepalive failed")
	out := buf.String()
	for _, want := range []string{`level=WARN msg="retrying of unary invoker failed"`, "attempt=2", "endpoint=http://e1:2379", `level=ERROR msg="lease keepalive failed"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "info line") || strings.Contains(out, "debug line") {
		t.Errorf("info or debug lines were logged:\n%s", out)
	}
	if lines := strings.Count(out, "endpoint="); lines != 2 {
		t.Errorf("the logger's own field on %d lines, want 2:\n%s", lines, out)
	}
	zapToSlog(nil).Warn("dropped") // a nil logger discards
}
