package memstore_test

import (
	"testing"

	"github.com/authsuite/authsuite/services/provider"
	"github.com/authsuite/authsuite/services/provider/memstore"
	"github.com/authsuite/authsuite/services/provider/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) provider.Store { return memstore.New() })
}
