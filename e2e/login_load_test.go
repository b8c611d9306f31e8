package e2e

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loginLoadUsers is the number of people opening the login page at the same time.
const loginLoadUsers = 100

// BenchmarkLoginPageConcurrent measures the login page under load: loginLoadUsers clients, each with its own
// connection, fire GET /connect/authorize (no session: validation, a new interaction, the tenant's settings,
// the rendered page in the browser's language) against the running suite over loopback HTTP, b.N requests in
// all. It reports the latency each person sees (p50, p99, in ms) and the pages served per second. Every
// answer must be the Simplified Chinese login page: a fast error page would not count.
//
//	go test ./e2e -run '^$' -bench BenchmarkLoginPageConcurrent -benchtime 5000x
func BenchmarkLoginPageConcurrent(b *testing.B) {
	f := newSigninFixture(b)
	_, ch := pkce()
	u := f.authorizeURL("web", "openid profile", "s", "n", ch)
	transport := &http.Transport{MaxIdleConns: loginLoadUsers, MaxIdleConnsPerHost: loginLoadUsers, MaxConnsPerHost: loginLoadUsers}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func() (time.Duration, error) {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `id="login"`) || !strings.Contains(string(body), `<html lang="zh-Hans">`) {
			b.Errorf("not the Simplified Chinese login page: %d %.300s", resp.StatusCode, body)
		}
		return took, nil
	}
	// Warm up: one connection per user, the tenant's settings cached.
	var wg sync.WaitGroup
	for range loginLoadUsers {
		wg.Go(func() {
			if _, err := get(); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}

	latencies := make([]time.Duration, b.N)
	var next atomic.Int64
	b.ResetTimer()
	for range loginLoadUsers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				took, err := get()
				if err != nil {
					b.Error(err)
					return
				}
				latencies[i] = took
			}
		})
	}
	wg.Wait()
	elapsed := b.Elapsed()
	b.StopTimer()
	slices.Sort(latencies)
	at := func(p float64) float64 {
		return float64(latencies[min(len(latencies)-1, int(p*float64(len(latencies))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "pages/s")
	b.ReportMetric(0, "ns/op") // the wall time per page of 100 parallel users says nothing alone
}
