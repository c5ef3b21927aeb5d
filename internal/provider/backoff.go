package provider

import (
	"math/rand/v2"
	"time"
)

// Backoff is the wait after failed attempt number attempt (1-based): base·2^(attempt-1),
// capped at max, then Jitter. attempt < 1 counts as 1.
func Backoff(base, max time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	return Jitter(min(d, max))
}

// Jitter is vendorhub's one jitter rule: a uniform draw in [d, d + d/5]. It only ever
// lengthens a wait — a Retry-After or a breaker's open period is a floor, never to be cut
// short — and spreads the retries of a burst over a fifth of the wait.
func Jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + rand.N(d/5+1)
}
