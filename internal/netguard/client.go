package netguard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Defaults and limits of Options.
const (
	// TimeoutDefault caps a whole request: dial, TLS, redirects, headers and body.
	TimeoutDefault = 30 * time.Second
	// MaxBodyBytesDefault caps a response body.
	MaxBodyBytesDefault int64 = 5 << 20
	// MaxRedirectsLimit is the most redirects any client follows.
	MaxRedirectsLimit = 5
	// dialTimeout bounds one TCP connect.
	dialTimeout = 5 * time.Second
)

// ErrBlocked matches every *BlockedError (errors.Is).
var ErrBlocked = errors.New("netguard: destination is a private or internal address")

// BlockedError reports a dial the guard refused: the resolved address and its range.
type BlockedError struct {
	Addr  netip.Addr
	Range string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("netguard: refused to connect to %s (%s): private or internal address", e.Addr, e.Range)
}

// Is makes errors.Is(err, ErrBlocked) true.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// PublicMessage is the fixed text stored where members read it.
func (e *BlockedError) PublicMessage() string {
	return "refused: the address resolves to a private or internal address"
}

// TooLargeError reports a response body longer than the client's cap.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("netguard: response body larger than %d bytes", e.Limit)
}

// PublicMessage is the fixed text stored where members read it.
func (e *TooLargeError) PublicMessage() string {
	return fmt.Sprintf("refused: the response is larger than %d bytes", e.Limit)
}

// ErrTooManyRedirects reports a request that redirected more than Options.MaxRedirects times.
var ErrTooManyRedirects = errors.New("netguard: too many redirects")

// Options configures New.
type Options struct {
	// AllowPrivate turns the address check off (dev and tests: local receivers and fakes).
	// Fed from VENDORHUB_WEBHOOK_ALLOW_PRIVATE_NETWORKS. Defaults to false: refused.
	AllowPrivate bool
	// Timeout caps a whole request, body included. Defaults to TimeoutDefault (30 s).
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed, each hop dialled through the same
	// check; at most MaxRedirectsLimit. Defaults to 0: a 3xx is returned as the response.
	MaxRedirects int
	// MaxBodyBytes caps a response body: reading past it fails with *TooLargeError.
	// Defaults to MaxBodyBytesDefault (5 MiB).
	MaxBodyBytes int64

	// exempt lets exact address:port pairs through the check. Tests only (export_test.go):
	// a loopback httptest server as an "allowed" first hop.
	exempt func(netip.AddrPort) bool
}

// New returns the guarded client of o.
func New(o Options) *http.Client {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = TimeoutDefault
	}
	maxBody := o.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = MaxBodyBytesDefault
	}
	redirects := min(max(o.MaxRedirects, 0), MaxRedirectsLimit)
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	if !o.AllowPrivate {
		dialer.ControlContext = control(o.exempt)
	}
	tr := &http.Transport{
		Proxy:                 nil, // never a proxy from the environment: it would dial for us, unchecked
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: &capTransport{base: tr, limit: maxBody},
		Timeout:   timeout,
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if redirects == 0 {
				return http.ErrUseLastResponse
			}
			if len(via) > redirects {
				return fmt.Errorf("%w (%d)", ErrTooManyRedirects, redirects)
			}
			return nil
		},
	}
}

// control checks the address a dial is about to connect to: resolved, so no name can hide
// an internal address.
func control(exempt func(netip.AddrPort) bool) func(context.Context, string, string, syscall.RawConn) error {
	return func(_ context.Context, _, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &BlockedError{Range: "unparsable address"}
		}
		if exempt != nil && exempt(ap) {
			return nil
		}
		if name, bad := Blocked(ap.Addr()); bad {
			return &BlockedError{Addr: ap.Addr(), Range: name}
		}
		return nil
	}
}

// capTransport caps every response body.
type capTransport struct {
	base  http.RoundTripper
	limit int64
}

func (t *capTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &cappedBody{r: io.LimitReader(resp.Body, t.limit+1), c: resp.Body, limit: t.limit}
	return resp, nil
}

// cappedBody reads at most limit bytes; one more is a *TooLargeError.
type cappedBody struct {
	r     io.Reader
	c     io.Closer
	read  int64
	limit int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += int64(n)
	if b.read > b.limit {
		return n - int(b.read-b.limit), &TooLargeError{Limit: b.limit}
	}
	return n, err
}

func (b *cappedBody) Close() error { return b.c.Close() }
