package realtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/providerfake"
	"github.com/wedsync/vendorhub/internal/realtime"
	"github.com/wedsync/vendorhub/internal/route"
)

const testKey = "service-role-key-for-tests"

type testBundle struct {
	fake *providerfake.Realtime
	pub  *realtime.Publisher
	stop func()
}

// setup starts a fake and a running publisher posting to it through transport (nil = REST).
func setup(t *testing.T, fcfg providerfake.RealtimeConfig, pcfg realtime.Config, wrap func(realtime.Transport) realtime.Transport) *testBundle {
	t.Helper()
	if fcfg.APIKey == "" {
		fcfg.APIKey = testKey
	}
	fake := providerfake.NewRealtime(fcfg)
	var tr realtime.Transport = &realtime.RESTTransport{URL: fake.URL(), APIKey: testKey}
	if wrap != nil {
		tr = wrap(tr)
	}
	pcfg.Transport = tr
	pub, err := realtime.New(pcfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = pub.Run(ctx) }()
	stop := sync.OnceFunc(func() { cancel(); <-done; fake.Close() })
	t.Cleanup(stop)
	return &testBundle{fake: fake, pub: pub, stop: stop}
}

func routed(i int, topics ...string) route.Routed {
	wid := "11111111-1111-4111-8111-111111111111"
	cid := fmt.Sprintf("22222222-2222-4222-8222-%012d", i)
	return route.Routed{
		Event: event.Event{
			Envelope: event.Envelope{
				ID: fmt.Sprintf("33333333-3333-4333-8333-%012d", i), Type: event.MessageCreated,
				OccurredAt: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), WeddingID: &wid,
				Subject: event.Subject{Table: "messages", ID: fmt.Sprint(i), ConversationID: &cid},
				Data:    json.RawMessage(fmt.Sprintf(`{"seq":%d,"body_preview":"hello"}`, i)),
			},
			Key: event.Key{CommitLSN: 0x16B3748, Index: uint32(i)},
		},
		Topics: topics,
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// gate blocks the first Send until released.
type gate struct {
	inner   realtime.Transport
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gate) Send(ctx context.Context, msgs []realtime.Message) error {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		<-g.release
	}
	return g.inner.Send(ctx, msgs)
}

func TestMessagesShape(t *testing.T) {
	t.Parallel()
	msgs, errs := realtime.Messages([]route.Routed{routed(7, "conversation:abc", "wedding:def"), routed(8)})
	require.Empty(t, errs)
	require.Len(t, msgs, 2)
	require.Equal(t, "conversation:abc", msgs[0].Topic)
	require.Equal(t, "wedding:def", msgs[1].Topic)
	require.Equal(t, "message.created", msgs[0].Event)
	require.True(t, msgs[0].Private)
	require.Empty(t, msgs[0].Actor)
	actor := "44444444-4444-4444-8444-444444444444"
	withActor := routed(9, "conversation:abc")
	withActor.Actor = &actor
	am, _ := realtime.Messages([]route.Routed{withActor})
	require.Equal(t, actor, am[0].Actor)
	body, err := json.Marshal(am[0])
	require.NoError(t, err)
	var keys map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &keys))
	require.NotContains(t, keys, "actor", "Message.Actor is not sent over REST")
	require.Contains(t, keys, "payload")
	var p map[string]any
	require.NoError(t, json.Unmarshal(msgs[0].Payload, &p))
	require.Equal(t, "16b3748/7", strings.ToLower(p["key"].(string)))
	require.Equal(t, "message.created", p["type"])
	require.Equal(t, float64(7), p["data"].(map[string]any)["seq"])
	require.NotContains(t, p, "refetch")
}

func TestBatching(t *testing.T) {
	t.Parallel()
	g := &gate{entered: make(chan struct{}), release: make(chan struct{})}
	b := setup(t, providerfake.RealtimeConfig{}, realtime.Config{BatchSize: 100}, func(tr realtime.Transport) realtime.Transport { g.inner = tr; return g })

	b.pub.Publish([]route.Routed{routed(0, "conversation:c")})
	<-g.entered // the first request is in flight: what follows must queue and be batched
	for i := 1; i < 250; i++ {
		b.pub.Publish([]route.Routed{routed(i, "conversation:c")})
	}
	close(g.release)
	msgs, err := b.fake.WaitMessages(ctxT(t), 250)
	require.NoError(t, err)
	require.Len(t, msgs, 250)
	for i, m := range msgs {
		var p struct{ Data struct{ Seq int } }
		require.NoError(t, json.Unmarshal(m.Payload, &p))
		require.Equal(t, i, p.Data.Seq, "order kept")
		require.True(t, m.Private)
	}
	reqs := b.fake.Requests()
	require.Len(t, reqs, 4, "1 + 100 + 100 + 49")
	for _, r := range reqs {
		require.Equal(t, testKey, r.Header.Get("apikey"))
		require.Equal(t, "Bearer "+testKey, r.Header.Get("Authorization"))
		require.Equal(t, realtime.BroadcastPath, r.Path)
	}
	require.Eventually(t, func() bool { return b.pub.Stats().Published == 250 }, 10*time.Second, time.Millisecond)
	require.EqualValues(t, 4, b.pub.Stats().Batches)
}

func TestCoalescesReplays(t *testing.T) {
	t.Parallel()
	g := &gate{entered: make(chan struct{}), release: make(chan struct{})}
	b := setup(t, providerfake.RealtimeConfig{}, realtime.Config{}, func(tr realtime.Transport) realtime.Transport { g.inner = tr; return g })
	b.pub.Publish([]route.Routed{routed(0, "conversation:c")})
	<-g.entered
	// A replay after a crash hands the same events over again.
	b.pub.Publish([]route.Routed{routed(1, "conversation:c"), routed(2, "conversation:c")})
	b.pub.Publish([]route.Routed{routed(1, "conversation:c"), routed(2, "conversation:c"), routed(3, "conversation:c")})
	close(g.release)
	_, err := b.fake.WaitMessages(ctxT(t), 4)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.pub.Stats().Published == 4 }, 10*time.Second, time.Millisecond)
	require.Equal(t, 2, b.fake.Len())
	msgs := b.fake.Messages()
	require.Len(t, msgs, 4, "each event once")
}

func TestRateLimitedRetryAfter(t *testing.T) {
	t.Parallel()
	b := setup(t, providerfake.RealtimeConfig{}, realtime.Config{}, nil)
	b.fake.Push(providerfake.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second})
	b.pub.Publish([]route.Routed{routed(1, "wedding:w")})
	msgs, err := b.fake.WaitMessages(ctxT(t), 1)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	reqs := b.fake.Requests()
	require.Len(t, reqs, 2)
	require.GreaterOrEqual(t, reqs[1].At.Sub(reqs[0].At), 900*time.Millisecond, "waited for Retry-After")
	require.Eventually(t, func() bool { return b.pub.Stats().Published == 1 }, 10*time.Second, time.Millisecond)
	st := b.pub.Stats()
	require.EqualValues(t, 1, st.RateLimited)
	require.EqualValues(t, 1, st.Retries)
}

func TestRateLimitedRollingWindowShrinksBatches(t *testing.T) {
	t.Parallel()
	// The tenant allows 40 messages per second; 100 queued messages must get through in
	// batches that fit, after 429 "reduce the batch size" answers.
	g := &gate{entered: make(chan struct{}), release: make(chan struct{})}
	b := setup(t, providerfake.RealtimeConfig{MaxEventsPerSecond: 40},
		realtime.Config{RateLimitWait: 250 * time.Millisecond, MaxAttempts: 20},
		func(tr realtime.Transport) realtime.Transport { g.inner = tr; return g })
	b.pub.Publish([]route.Routed{routed(0, "vendor:v")})
	<-g.entered
	for i := 1; i < 100; i++ {
		b.pub.Publish([]route.Routed{routed(i, "vendor:v")})
	}
	close(g.release)
	msgs, err := b.fake.WaitMessages(ctxT(t), 100)
	require.NoError(t, err)
	for i, m := range msgs {
		var p struct{ Data struct{ Seq int } }
		require.NoError(t, json.Unmarshal(m.Payload, &p))
		require.Equal(t, i, p.Data.Seq)
	}
	st := b.pub.Stats()
	require.Positive(t, st.RateLimited)
	require.Empty(t, st.Dropped)
	require.Greater(t, b.fake.Len(), 3, "refused batches were sent again in smaller pieces")
}

func TestUnauthorizedDropsWithoutRetry(t *testing.T) {
	t.Parallel()
	b := setup(t, providerfake.RealtimeConfig{APIKey: "the-real-key"}, realtime.Config{}, nil)
	b.pub.Publish([]route.Routed{routed(1, "user:u", "wedding:w")})
	require.Eventually(t, func() bool { return b.pub.Stats().Dropped[realtime.DropUnauthorized] == 2 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, 1, b.fake.Len(), "a 401 is not retried")
	require.Empty(t, b.fake.Messages())
	require.Contains(t, b.fake.Requests()[0].Header.Get("Authorization"), testKey)
}

func TestOversizedReplacedBeforeSending(t *testing.T) {
	t.Parallel()
	b := setup(t, providerfake.RealtimeConfig{}, realtime.Config{MaxPayloadBytes: 4096}, nil)
	big := routed(1, "conversation:c")
	big.Data = json.RawMessage(`{"body":"` + strings.Repeat("x", 10_000) + `"}`)
	b.pub.Publish([]route.Routed{routed(0, "conversation:c"), big, routed(2, "conversation:c")})
	msgs, err := b.fake.WaitMessages(ctxT(t), 3)
	require.NoError(t, err)
	require.Len(t, msgs, 3)
	require.Equal(t, 1, b.fake.Len(), "no refused request: replaced before sending")
	var p map[string]any
	require.NoError(t, json.Unmarshal(msgs[1].Payload, &p))
	require.Equal(t, true, p["refetch"])
	require.NotContains(t, p, "data")
	require.Equal(t, "message.created", p["type"])
	require.Equal(t, big.ID, p["id"])
	require.Less(t, len(msgs[1].Payload), 4096)
	require.EqualValues(t, 1, b.pub.Stats().Oversized)
}

func TestOversizedRefusedByServer(t *testing.T) {
	t.Parallel()
	// Our limit is the Pro plan's, the project is on a smaller one: the server answers 422.
	b := setup(t, providerfake.RealtimeConfig{MaxPayloadBytes: 4096}, realtime.Config{MaxPayloadBytes: 3000 * 1024}, nil)
	big := routed(1, "conversation:c")
	big.Data = json.RawMessage(`{"body":"` + strings.Repeat("y", 20_000) + `"}`)
	b.pub.Publish([]route.Routed{routed(0, "conversation:c"), big, routed(2, "conversation:c"), routed(3, "conversation:c")})
	msgs, err := b.fake.WaitMessages(ctxT(t), 4)
	require.NoError(t, err)
	require.Len(t, msgs, 4)
	seqs := []int{}
	for _, m := range msgs {
		var p struct {
			Refetch bool
			Subject struct{ ID string }
		}
		require.NoError(t, json.Unmarshal(m.Payload, &p))
		if p.Subject.ID == "1" {
			require.True(t, p.Refetch)
		} else {
			require.False(t, p.Refetch)
		}
		var n int
		fmt.Sscan(p.Subject.ID, &n)
		seqs = append(seqs, n)
	}
	require.Equal(t, []int{0, 1, 2, 3}, seqs, "order kept across the split")
	require.EqualValues(t, 1, b.pub.Stats().Oversized)
	require.Greater(t, b.fake.Len(), 1, "the refused batch was split")
}

func TestServerErrorsRetriedThenDropped(t *testing.T) {
	t.Parallel()
	b := setup(t, providerfake.RealtimeConfig{}, realtime.Config{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, MaxAttempts: 3}, nil)
	b.fake.Push(providerfake.Fault{Status: 503}, providerfake.Fault{Status: 500})
	b.pub.Publish([]route.Routed{routed(1, "user:u")})
	_, err := b.fake.WaitMessages(ctxT(t), 1)
	require.NoError(t, err)
	require.EqualValues(t, 2, b.pub.Stats().Retries)

	b.fake.Push(providerfake.Fault{Status: 502}, providerfake.Fault{Status: 502}, providerfake.Fault{Status: 502})
	b.pub.Publish([]route.Routed{routed(2, "user:u")})
	require.Eventually(t, func() bool { return b.pub.Stats().Dropped[realtime.DropFailed] == 1 }, 10*time.Second, 5*time.Millisecond)
	require.Len(t, b.fake.Messages(), 1)
	// A bad request is not retried.
	b.fake.Push(providerfake.Fault{Status: http.StatusBadRequest})
	b.pub.Publish([]route.Routed{routed(3, "user:u")})
	require.Eventually(t, func() bool { return b.pub.Stats().Dropped[realtime.DropRejected] == 1 }, 10*time.Second, 5*time.Millisecond)
}

// TestPublishNeverBlocksOnOutage: Realtime hangs; the caller (the hand-off, which acknowledges
// the LSN right before calling Publish) is never held: every Publish returns while the one
// request in flight is still hanging, and what does not fit the queue is dropped and counted.
func TestPublishNeverBlocksOnOutage(t *testing.T) {
	t.Parallel()
	b := setup(t, providerfake.RealtimeConfig{}, realtime.Config{QueueSize: 500, BatchSize: 50}, nil)
	b.fake.Always(providerfake.Fault{Status: 503, Delay: time.Hour})
	// The first event's request is in flight and hangs.
	b.pub.Publish([]route.Routed{routed(0, "wedding:w")})
	_, err := b.fake.WaitFor(ctxT(t), 1)
	require.NoError(t, err)
	const n = 20_000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i < n; i++ {
			b.pub.Publish([]route.Routed{routed(i, "wedding:w")})
		}
	}()
	select {
	case <-done:
	case <-ctxT(t).Done():
		t.Fatal("Publish blocked while Realtime hangs")
	}
	require.Equal(t, 1, b.fake.Len(), "the one request still hangs")
	st := b.pub.Stats()
	require.EqualValues(t, 500, st.Queued)
	require.EqualValues(t, n-1-500, st.Dropped[realtime.DropQueueFull])
	require.Zero(t, st.Published)
	b.stop() // cancels the hanging request
	st = b.pub.Stats()
	require.EqualValues(t, n-1-500, st.Dropped[realtime.DropQueueFull])
	require.EqualValues(t, 501, st.Dropped[realtime.DropShutdown], "the queued and the in-flight messages")
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	_, err := realtime.New(realtime.Config{})
	require.Error(t, err)
	_, err = realtime.New(realtime.Config{Transport: &realtime.RESTTransport{}, MaxPayloadBytes: 10})
	require.Error(t, err)
	_, err = realtime.New(realtime.Config{Transport: &realtime.RESTTransport{}, QueueSize: -1})
	require.Error(t, err)
}
