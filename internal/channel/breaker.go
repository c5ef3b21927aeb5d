package channel

import (
	"context"
	"errors"
	"time"

	"github.com/wedsync/vendorhub/internal/breaker"
	"github.com/wedsync/vendorhub/internal/provider"
)

// CodeCircuitOpen is the provider.Error code of a send refused by an open breaker.
const CodeCircuitOpen = breaker.CodeCircuitOpen

// WithBreaker wraps s with the breaker of its provider (breaker.Provider). Transient
// failures (5xx, timeouts, network errors) count against the provider; a bad recipient, a
// rejected payload or a 429 do not. While the breaker is open, Send fails at once with a
// *provider.Error of class provider.Unavailable and code CodeCircuitOpen (provider.BreakerOpen), which makes the delivery worker fall
// back to the next channel.
func WithBreaker(b *breaker.Breakers, s Sender) Sender {
	return &breakerSender{b: b, s: s, name: breaker.Provider(s.Provider())}
}

type breakerSender struct {
	b    *breaker.Breakers
	s    Sender
	name string
}

func (bs *breakerSender) Provider() string { return bs.s.Provider() }

func (bs *breakerSender) Send(ctx context.Context, m Message) (Result, error) {
	var res Result
	err := bs.b.DoIf(bs.name, func() error {
		var err error
		res, err = bs.s.Send(ctx, m)
		return err
	}, func(err error) bool { return ClassOf(err) == Transient })
	if errors.Is(err, breaker.ErrOpen) {
		var wait time.Duration
		if open, ok := errors.AsType[*breaker.OpenError](err); ok {
			wait = open.RetryAfter
		}
		return Result{Provider: bs.s.Provider()}, provider.BreakerOpen(bs.s.Provider(), CodeCircuitOpen, wait, err)
	}
	return res, err
}
