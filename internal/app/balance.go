package app

import (
	"fmt"
	"net"
	"sync/atomic"

	"google.golang.org/grpc"
	_ "google.golang.org/grpc/health" // client-side health checking, which balancedServiceConfig asks for
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/authsuite/authsuite/internal/config"
)

// balancedServiceConfig spreads calls round robin over the replicas whose health service reports the
// server's overall status ("", which a role sets SERVING once it can serve and NOT_SERVING from the start of
// its shutdown) as SERVING: a replica that is down, starting or draining gets no new calls, and calls go to
// it again once it reports SERVING.
const balancedServiceConfig = `{"loadBalancingConfig":[{"round_robin":{}}],"healthCheckConfig":{"serviceName":""}}`

// balancedConns numbers the resolvers of balanced connections: each needs a scheme of its own.
var balancedConns atomic.Uint64

// dialService returns a client connection to a service at list, one or more comma-separated host:port
// addresses (config.ParseAddrs). One address is dialled as given (gRPC's default resolver and policy, as
// before lists existed); several are balanced with balancedServiceConfig, each dialled by its own name (a
// restarted replica is found again at its name) and verified by it under TLS. It connects lazily.
func dialService(list string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	addrs, err := config.ParseAddrs(list)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 1 {
		return grpc.NewClient(addrs[0], opts...)
	}
	r := manual.NewBuilderWithScheme(fmt.Sprintf("authsuite-replicas-%d", balancedConns.Add(1)))
	var state resolver.State
	for _, a := range addrs {
		host, _, _ := net.SplitHostPort(a) // ParseAddrs checked the form
		state.Endpoints = append(state.Endpoints, resolver.Endpoint{Addresses: []resolver.Address{{Addr: a, ServerName: host}}})
	}
	r.InitialState(state)
	opts = append(opts[:len(opts):len(opts)], grpc.WithResolvers(r), grpc.WithDefaultServiceConfig(balancedServiceConfig))
	return grpc.NewClient(r.Scheme()+":///replicas", opts...)
}
