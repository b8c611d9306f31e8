package clients

import (
	"fmt"
	"testing"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// BenchmarkHasCORSOrigin looks up an origin no client lists (the worst case of a scan) among 10 000 clients
// with two origins each.
func BenchmarkHasCORSOrigin(b *testing.B) {
	c := NewCache(Config{})
	for i := range 10_000 {
		if err := TestingPut(c, &registryv1.ClientRecord{Client: &registryv1.Client{ClientId: fmt.Sprint("c", i), TenantId: "t",
			AllowedCorsOrigins: []string{fmt.Sprintf("https://app%d.example", i), fmt.Sprintf("https://admin%d.example", i)}}}); err != nil {
			b.Fatal(err)
		}
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if c.HasCORSOrigin("https://evil.example") {
				b.Fatal("unlisted origin allowed")
			}
		}
	})
}
