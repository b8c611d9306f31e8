package metrics

import "github.com/prometheus/client_golang/prometheus"

// Register adds collectors kept by other packages (the etcd client's request counter) to m's private
// registry, so /metrics exports them with the rest. It fails, registering none, when one of them clashes
// with a metric already registered.
func (m *Metrics) Register(cs ...prometheus.Collector) error {
	for i, c := range cs {
		if err := m.reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				m.reg.Unregister(done)
			}
			return err
		}
	}
	return nil
}
