package metrics

import (
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
)

var (
	storeWriteSeconds = prometheus.NewDesc(namespace+"_store_write_seconds_total",
		"Time the store's committed write transactions spent writing pages to disk (bbolt TxStats write time).",
		[]string{"store"}, nil)
	storeSpillSeconds = prometheus.NewDesc(namespace+"_store_spill_seconds_total",
		"Time the store's committed write transactions spent spilling nodes into pages (bbolt TxStats spill time).",
		[]string{"store"}, nil)
	storePagesWritten = prometheus.NewDesc(namespace+"_store_pages_written_total",
		"Writes to disk performed by the store's committed write transactions (bbolt TxStats writes).",
		[]string{"store"}, nil)
	storeReadTxOpen = prometheus.NewDesc(namespace+"_store_read_transactions_open",
		"Read transactions open in the store now.",
		[]string{"store"}, nil)
	storeFreePages = prometheus.NewDesc(namespace+"_store_free_pages",
		"Free pages on the store's freelist.",
		[]string{"store"}, nil)
)

// WatchBolt exports the statistics of db, labelled store, read from db.Stats() at each scrape:
//
//	authsuite_store_write_seconds_total{store}      counter: time writing pages to disk
//	authsuite_store_spill_seconds_total{store}      counter: time spilling nodes into pages
//	authsuite_store_pages_written_total{store}      counter: writes to disk
//	authsuite_store_read_transactions_open{store}   gauge
//	authsuite_store_free_pages{store}               gauge
//
// Commit latency is exported as write time plus spill time, the two phases of a bbolt commit that scale with
// the data written: bbolt exposes no per-commit timing without wrapping every transaction, so the rate of
// (write+spill seconds) over the rate of commits elsewhere (e.g. authsuite_grpc_requests_total of writing
// methods) is the average, not a distribution.
//
// Watching a store name again replaces its database (a store reopened after a restore); a nil db stops
// watching it. The counters are bbolt's own, which restart at zero when the database is reopened.
func (m *Metrics) WatchBolt(store string, db *bolt.DB) {
	m.stores.watch(store, db)
}

// storeCollector collects the statistics of every watched bbolt database.
type storeCollector struct {
	mu  sync.RWMutex
	dbs map[string]*bolt.DB
}

func newStoreCollector() *storeCollector {
	return &storeCollector{dbs: map[string]*bolt.DB{}}
}

func (c *storeCollector) watch(store string, db *bolt.DB) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if db == nil {
		delete(c.dbs, store)
		return
	}
	c.dbs[store] = db
}

// Describe implements prometheus.Collector.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{storeWriteSeconds, storeSpillSeconds, storePagesWritten, storeReadTxOpen, storeFreePages} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one db.Stats() per store, which bbolt serves from memory under
// a read lock, so a scrape never waits for a write transaction.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	stores := make([]string, 0, len(c.dbs))
	for s := range c.dbs {
		stores = append(stores, s)
	}
	sort.Strings(stores)
	dbs := make([]*bolt.DB, len(stores))
	for i, s := range stores {
		dbs[i] = c.dbs[s]
	}
	c.mu.RUnlock()

	for i, store := range stores {
		st := dbs[i].Stats()
		tx := &st.TxStats
		ch <- prometheus.MustNewConstMetric(storeWriteSeconds, prometheus.CounterValue, tx.GetWriteTime().Seconds(), store)
		ch <- prometheus.MustNewConstMetric(storeSpillSeconds, prometheus.CounterValue, tx.GetSpillTime().Seconds(), store)
		ch <- prometheus.MustNewConstMetric(storePagesWritten, prometheus.CounterValue, float64(tx.GetWrite()), store)
		ch <- prometheus.MustNewConstMetric(storeReadTxOpen, prometheus.GaugeValue, float64(st.OpenTxN), store)
		ch <- prometheus.MustNewConstMetric(storeFreePages, prometheus.GaugeValue, float64(st.FreePageN), store)
	}
}
