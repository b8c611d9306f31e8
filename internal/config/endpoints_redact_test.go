package config

import (
	"strings"
	"testing"
)

// TestEndpointErrorsDoNotQuoteCredentials: an operator who puts the etcd user and password in an endpoint
// URL is refused (credentials go in --etcd-username and AUTHSUITE_ETCD_PASSWORD), but the refusal, which is
// printed at start-up and lands in logs, must not repeat the password.
func TestEndpointErrorsDoNotQuoteCredentials(t *testing.T) {
	for _, in := range []string{
		"http://root:s3cret-pw@h1:2379",
		"http://h0:2379,https://root:s3cret-pw@h1:2379",
		"http://root:s3cret-pw@h1",
		"http://root:s3cret-pw@h1:2379/path",
	} {
		_, err := ParseEndpoints(in)
		if err == nil {
			t.Errorf("%q accepted", in)
			continue
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("%q: the error quotes the password: %v", in, err)
		}
	}
}
