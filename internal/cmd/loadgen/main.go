// Command loadgen measures a running authsuite: it registers a throw-away client through the admin API,
// then drives POST /connect/token (client_credentials) or GET /api/oauth2/server/tokens/check over N
// keep-alive connections for a fixed time and prints throughput and latency percentiles.
//
// It speaks HTTP/1.1 on raw connections with pre-built requests, so the generator itself costs a few
// microseconds per request and leaves the cores to the server.
//
//	go run ./internal/cmd/loadgen -base http://127.0.0.1:8080 -admin-secret "$SECRET" -mode token -conns 64 -duration 10s
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	base := flag.String("base", "http://127.0.0.1:8080", "authsuite base URL")
	adminSecret := flag.String("admin-secret", os.Getenv("AUTHSUITE_BOOTSTRAP_SECRET"), "secret of the bootstrap admin client")
	mode := flag.String("mode", "token", "token (POST /connect/token) or check (GET /api/oauth2/server/tokens/check)")
	conns := flag.Int("conns", 64, "concurrent keep-alive connections")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	maxRequests := flag.Int("max-requests", 5_000_000, "stop after this many requests in all")
	rate := flag.Float64("rate", 0, "requests per second in all, spread over the connections (0: as fast as possible)")
	flag.Parse()
	if err := run(*base, *adminSecret, *mode, *conns, *duration, *maxRequests, *rate); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(base, adminSecret, mode string, conns int, duration time.Duration, maxRequests int, rate float64) error {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return fmt.Errorf("-base: %q is not a URL", base)
	}
	clientID, secret, err := registerClient(base, adminSecret)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	var req []byte
	switch mode {
	case "token":
		body := "grant_type=client_credentials"
		auth := base64.StdEncoding.EncodeToString([]byte(clientID + ":" + url.QueryEscape(secret)))
		req = fmt.Appendf(nil, "POST /connect/token HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s",
			u.Host, auth, len(body), body)
	case "check":
		tok, err := token(base, clientID, secret)
		if err != nil {
			return err
		}
		req = fmt.Appendf(nil, "GET /api/oauth2/server/tokens/check?token=%s HTTP/1.1\r\nHost: %s\r\n\r\n", tok, u.Host)
	default:
		return fmt.Errorf("-mode: want token or check, got %q", mode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		failures  int
		firstErr  error
		budget    = make(chan struct{}, maxRequests)
	)
	for range maxRequests {
		budget <- struct{}{}
	}
	close(budget)
	start := time.Now()
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var interval time.Duration
			if rate > 0 {
				interval = time.Duration(float64(conns) / rate * float64(time.Second))
			}
			lat, fails, err := drive(ctx, u.Host, req, budget, interval)
			mu.Lock()
			latencies = append(latencies, lat...)
			failures += fails
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(latencies) == 0 {
		return fmt.Errorf("no request succeeded: %v", firstErr)
	}
	slices.Sort(latencies)
	pct := func(p float64) time.Duration { return latencies[int(float64(len(latencies)-1)*p)] }
	fmt.Printf("mode=%s conns=%d rate=%.0f duration=%s requests=%d failures=%d throughput=%.0f/s p50=%s p90=%s p99=%s max=%s\n",
		mode, conns, rate, elapsed.Round(time.Millisecond), len(latencies), failures, float64(len(latencies))/elapsed.Seconds(),
		pct(0.50), pct(0.90), pct(0.99), latencies[len(latencies)-1])
	if firstErr != nil {
		fmt.Println("first error:", firstErr)
	}
	if failures > 0 {
		return fmt.Errorf("%d requests failed", failures)
	}
	return nil
}

// drive sends req over one connection until ctx ends or the budget is spent, returning the latency of each
// 200 answer and the count of other answers. With a non-zero interval the connection sends on a fixed
// schedule (open loop) and latency counts from the scheduled send time, so a slow answer that delays the
// next send is charged to that request too (no coordinated omission).
func drive(ctx context.Context, host string, req []byte, budget <-chan struct{}, interval time.Duration) ([]time.Duration, int, error) {
	c, err := net.Dial("tcp", host)
	if err != nil {
		return nil, 0, err
	}
	defer c.Close()
	go func() { <-ctx.Done(); c.SetDeadline(time.Now()) }()
	r := bufio.NewReaderSize(c, 16<<10)
	lat := make([]time.Duration, 0, 1<<16)
	fails := 0
	next := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for range budget {
		t0 := time.Now()
		if interval > 0 {
			if wait := next.Sub(t0); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return lat, fails, nil
				}
			}
			t0 = next
			next = next.Add(interval)
		}
		if _, err := c.Write(req); err != nil {
			return lat, fails, ignoreDone(ctx, err)
		}
		status, err := readResponse(r)
		if err != nil {
			return lat, fails, ignoreDone(ctx, err)
		}
		if status != http.StatusOK {
			fails++
			continue
		}
		lat = append(lat, time.Since(t0))
	}
	return lat, fails, nil
}

func ignoreDone(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// readResponse reads one HTTP/1.1 response with a Content-Length body and returns its status.
func readResponse(r *bufio.Reader) (int, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, err
	}
	length := -1
	for {
		line, err = r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(k), "Content-Length") {
			length, err = strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return 0, err
			}
		}
	}
	if length < 0 {
		return 0, errors.New("response without Content-Length")
	}
	_, err = r.Discard(length)
	return status, err
}

// registerClient creates a client with a secret in the system tenant through the admin API.
func registerClient(base, adminSecret string) (string, string, error) {
	admin, err := token(base, "admin", adminSecret)
	if err != nil {
		return "", "", fmt.Errorf("admin token (is -admin-secret right?): %w", err)
	}
	id := "loadgen-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := call(base, "POST", "/api/adminapi2/v1/tenants/default/clients/", admin, map[string]any{
		"clientId": id, "allowedGrantTypes": []string{"client_credentials"}, "allowedScopes": []string{"load.test"},
	}); err != nil {
		return "", "", err
	}
	sec, err := call(base, "POST", "/api/adminapi2/v1/tenants/default/clients/"+id+"/secrets/", admin, map[string]any{})
	if err != nil {
		return "", "", err
	}
	value, _ := sec["value"].(string)
	// The token service learns of the client through its change feed; wait until it does.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := token(base, id, value); err == nil {
			return id, value, nil
		} else if time.Now().After(deadline) {
			return "", "", err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func token(base, id, secret string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	resp, err := http.PostForm(base+"/connect/token", form)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token: %d %s", resp.StatusCode, body.Error)
	}
	return body.AccessToken, nil
}

func call(base, method, path, bearer string, body any) (map[string]any, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(method, base+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	var m map[string]any
	return m, json.Unmarshal(raw, &m)
}
