package memstore_test

import (
	"testing"

	"github.com/authsuite/authsuite/services/registry"
	"github.com/authsuite/authsuite/services/registry/memstore"
	"github.com/authsuite/authsuite/services/registry/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) registry.Store { return memstore.New() })
}
