package netguard

import (
	"net/http"
	"testing"
)

// The environment's proxy is never used: a proxy would dial on our behalf, unchecked.
func TestNoProxyFromEnvironment(t *testing.T) {
	for _, o := range []Options{{}, {AllowPrivate: true}} {
		tr := New(o).Transport.(*capTransport).base.(*http.Transport)
		if tr.Proxy != nil {
			t.Fatalf("Proxy is set for %+v", o)
		}
	}
}
