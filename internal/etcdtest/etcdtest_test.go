package etcdtest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestThreeMembers drives a 3-member cluster: a put through member 0 is read linearizably through member 2 and
// delivered to a watch on member 2 with the put's revision; with member 1 killed the remaining quorum keeps
// accepting writes, and the restarted member 1 has applied them.
func TestThreeMembers(t *testing.T) {
	binary(t) // build or find etcd first, so the time below is the cluster's own start
	began := time.Now()
	c := Start(t, 3)
	t.Logf("3-member cluster ready in %v", time.Since(began))
	if got := len(c.Endpoints()); got != 3 {
		t.Fatalf("Endpoints() has %d entries, want 3", got)
	}
	ctx := ctx(t)
	c0, c2 := c.ClientAt(t, 0), c.ClientAt(t, 2)

	w := c2.Watch(ctx, "k", clientv3.WithCreatedNotify())
	if wr := <-w; !wr.Created || wr.Err() != nil {
		t.Fatalf("watch not created: %+v, %v", wr, wr.Err())
	}
	put, err := c0.Put(ctx, "k", "v1")
	if err != nil {
		t.Fatal(err)
	}
	rev := put.Header.Revision

	get, err := c2.Get(ctx, "k") // linearizable by default
	if err != nil {
		t.Fatal(err)
	}
	if len(get.Kvs) != 1 || string(get.Kvs[0].Value) != "v1" || get.Kvs[0].ModRevision != rev {
		t.Fatalf("member 2 read %+v, want k=v1 at revision %d", get.Kvs, rev)
	}

	wr := <-w
	if err := wr.Err(); err != nil {
		t.Fatal(err)
	}
	if len(wr.Events) != 1 || wr.Events[0].Type != clientv3.EventTypePut ||
		string(wr.Events[0].Kv.Value) != "v1" || wr.Events[0].Kv.ModRevision != rev {
		t.Fatalf("watch on member 2 delivered %+v, want put k=v1 at revision %d", wr.Events, rev)
	}

	c.Kill(1)
	if c.Running(1) {
		t.Fatal("member 1 still running after Kill")
	}
	if _, err := net.Dial("tcp", hostPort(t, c.Endpoint(1))); err == nil {
		t.Fatal("member 1 still accepts connections after Kill")
	}
	// If member 1 led, a write proposed before the others notice could be forwarded to the dead leader and time
	// out with an unknown outcome. A linearizable read, which the client retries until it succeeds, returns
	// once the remaining quorum has a leader.
	began = time.Now()
	if _, err := c0.Get(ctx, "k"); err != nil {
		t.Fatalf("read through member 0 with member 1 killed: %v", err)
	}
	t.Logf("quorum of 2 answered a linearizable read %v after the kill", time.Since(began))
	var last int64
	for i := range 20 {
		put, err := c0.Put(ctx, fmt.Sprintf("during-kill/%02d", i), "x")
		if err != nil {
			t.Fatalf("put %d with member 1 killed: %v", i, err)
		}
		last = put.Header.Revision
	}

	began = time.Now()
	c.Restart(1)
	t.Logf("member 1 restarted and caught up in %v", time.Since(began))
	// A serializable read answers from member 1's own store without asking the leader, so it shows what member
	// 1 itself has applied.
	got, err := c.ClientAt(t, 1).Get(ctx, "during-kill/", clientv3.WithPrefix(), clientv3.WithSerializable())
	if err != nil {
		t.Fatal(err)
	}
	if got.Count != 20 || got.Header.Revision < last {
		t.Fatalf("restarted member 1 has %d keys at revision %d, want 20 at revision ≥ %d",
			got.Count, got.Header.Revision, last)
	}

	// The all-members client works too.
	if _, err := c.Client(t).Put(ctx, "k", "v2"); err != nil {
		t.Fatal(err)
	}
}

// TestOneMember starts a 1-member cluster, checks a write survives kill -9 and restart, and stops it.
func TestOneMember(t *testing.T) {
	binary(t)
	began := time.Now()
	c := Start(t, 1)
	t.Logf("1-member cluster ready in %v", time.Since(began))
	ctx := ctx(t)
	put, err := c.Client(t).Put(ctx, "k", "v")
	if err != nil {
		t.Fatal(err)
	}

	c.Kill(0)
	c.Restart(0)
	get, err := c.Client(t).Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(get.Kvs) != 1 || string(get.Kvs[0].Value) != "v" || get.Kvs[0].ModRevision != put.Header.Revision {
		t.Fatalf("after kill and restart read %+v, want k=v at revision %d", get.Kvs, put.Header.Revision)
	}

	c.Stop()
	if c.Running(0) {
		t.Fatal("member 0 still running after Stop")
	}
	if _, err := net.Dial("tcp", hostPort(t, c.Endpoint(0))); err == nil {
		t.Fatal("member 0 still accepts connections after Stop")
	}
}

func hostPort(t *testing.T, endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
