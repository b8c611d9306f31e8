package audit_test

import "time"

var testNow = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
