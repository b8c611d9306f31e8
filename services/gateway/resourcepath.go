package gateway

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/grpc"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// An API resource is named in the admin API's paths by its resource indicator, an absolute URI (RFC 8707 §2),
// percent-encoded into one path segment: /api/adminapi2/v1/tenants/{tenantId}/resources/https%3A%2F%2Forders.internal.
// grpc-gateway's mux (in its default, legacy unescaping mode) routes on the decoded path, where that segment
// has become several, and no other mode hands a handler the segment decoded exactly once. So the gateway
// takes the segment out before routing: resourcePath decodes it once (url.PathUnescape of the escaped path,
// so "%252F" stays "%2F") into the request's context, routes the request with a placeholder in its place, and
// resourceIDConn puts the decoded value into the ApiResourceService request. The exact URI thus reaches the
// registry, whichever characters it holds.

// resourceIDKey is the context key of the resource indicator a request's path names.
type resourceIDKey struct{}

// resourcePlaceholder replaces the resource segment of a routed path.
const resourcePlaceholder = "-"

// resourcePath returns r routed for the mux when its path names one API resource (with the /v2 base path and
// a trailing slash accepted as everywhere else): the path's resource segment, decoded once, in the context
// and the placeholder in the path. Any other request is returned as it is.
func resourcePath(r *http.Request) *http.Request {
	p := r.URL.EscapedPath()
	if rest, ok := strings.CutPrefix(p, adminV2); ok {
		p = adminV1 + rest
	}
	rest, ok := strings.CutPrefix(p, adminV1+"tenants/")
	if !ok {
		return r
	}
	rest = strings.TrimSuffix(rest, "/")
	tenant, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return r
	}
	seg, ok := strings.CutPrefix(rest, "resources/")
	if !ok || seg == "" || strings.Contains(seg, "/") {
		return r
	}
	id, err := url.PathUnescape(seg)
	if err != nil {
		return r
	}
	tenantID, err := url.PathUnescape(tenant)
	if err != nil || strings.Contains(tenantID, "/") {
		return r
	}
	r = r.WithContext(context.WithValue(r.Context(), resourceIDKey{}, id))
	r.URL.Path = adminV1 + "tenants/" + tenantID + "/resources/" + resourcePlaceholder
	r.URL.RawPath = ""
	return r
}

// resourceIDConn sets the resource_id of ApiResourceService requests to the value resourcePath decoded, when
// the call's context carries one.
type resourceIDConn struct{ grpc.ClientConnInterface }

func (c resourceIDConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if id, ok := ctx.Value(resourceIDKey{}).(string); ok {
		switch m := args.(type) {
		case *registryv1.GetApiResourceRequest:
			m.ResourceId = id
		case *registryv1.UpdateApiResourceRequest:
			m.ResourceId = id
		case *registryv1.DeleteApiResourceRequest:
			m.ResourceId = id
		}
	}
	return c.ClientConnInterface.Invoke(ctx, method, args, reply, opts...)
}
