package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

// BenchRevoke measures concurrent revocations (distinct jtis) on s, reported as revocations per second.
func BenchRevoke(b *testing.B, s token.Store) {
	ctx := context.Background()
	var n atomic.Int64
	exp := time.Now().Add(time.Hour)
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var jti [8]byte
			binary.BigEndian.PutUint64(jti[:], uint64(n.Add(1)))
			if err := s.Revoke(ctx, token.Revocation{JTI: "bench-" + string(jti[:]), Expiry: exp}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "revokes/s")
}

// BenchConsumeCode measures concurrent redemptions of distinct codes stored beforehand, reported as
// redemptions per second.
func BenchConsumeCode(b *testing.B, s token.Store) {
	ctx := context.Background()
	hash := func(i int64) []byte {
		d := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(b.Name()), uint64(i)))
		return d[:]
	}
	exp := time.Now().Add(time.Hour)
	for i := range int64(b.N) {
		if err := s.PutCode(ctx, token.AuthCode{Hash: hash(i), ClientID: "web", UserID: "u", FamilyID: "f", Scopes: []string{"openid"}, Expiry: exp}); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.ConsumeCode(ctx, hash(n.Add(1)-1), func(token.AuthCode) error { return nil }); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "codes/s")
}
