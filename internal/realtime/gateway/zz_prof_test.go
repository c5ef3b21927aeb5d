package gateway_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/auth"
	"github.com/wedsync/vendorhub/internal/realtime"
	"github.com/wedsync/vendorhub/internal/realtime/gateway"
	"github.com/wedsync/vendorhub/internal/realtime/rtclient"
)

func TestZZFanoutProfile(t *testing.T) {
	gw, err := gateway.New(gateway.Config{Verifier: verifier(t), MaxConnsPerIP: 20000})
	require.NoError(t, err)
	srv := httptest.NewServer(gw.Handler())
	defer srv.Close()
	ctx := context.Background()
	if true {
		raw(t, srv.URL, gw)
		return
	}
	var chans []*rtclient.Channel
	for i := 0; i < 5000; i++ {
		c, err := rtclient.Dial(ctx, rtclient.Options{URL: srv.URL, APIKey: auth.DevAnonKey, Buffer: 8})
		require.NoError(t, err)
		ch, err := c.Join(ctx, "room", rtclient.JoinConfig{})
		require.NoError(t, err)
		chans = append(chans, ch)
	}
	var all []float64
	if true {
		raw(t, srv.URL, gw)
		return
	}
	for b := 0; b < 10; b++ {
		var mu sync.Mutex
		var wg sync.WaitGroup
		wg.Add(len(chans))
		start := time.Now()
		for _, ch := range chans {
			go func() {
				defer wg.Done()
				m, _ := ch.Next(ctx, "broadcast")
				_ = m
				mu.Lock()
				all = append(all, float64(time.Since(start).Microseconds())/1000)
				mu.Unlock()
			}()
		}
		gw.Send(ctx, []realtime.Message{{Topic: "room", Event: "e", Payload: json.RawMessage(`{"n":1}`)}})
		wg.Wait()
	}
	sort.Float64s(all)
	t.Logf("p50 %.1f p99 %.1f", all[len(all)/2], all[len(all)*99/100])
}

func raw(t *testing.T, url string, gw *gateway.Gateway) {
	ctx := context.Background()
	u := "ws" + url[4:] + "/realtime/v1/websocket?vsn=2.0.0&apikey=" + auth.DevAnonKey
	type rc struct {
		c   *websocket.Conn
		got chan time.Time
	}
	var cs []rc
	for i := 0; i < 5000; i++ {
		c, _, err := websocket.Dial(ctx, u, nil)
		require.NoError(t, err)
		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`["1","1","realtime:room","phx_join",{"config":{}}]`)))
		_, _, err = c.Read(ctx)
		require.NoError(t, err)
		r := rc{c, make(chan time.Time, 16)}
		go func() {
			for {
				_, _, err := r.c.Read(ctx)
				if err != nil {
					return
				}
				r.got <- time.Now()
			}
		}()
		cs = append(cs, r)
	}
	var all []float64
	for b := 0; b < 10; b++ {
		start := time.Now()
		gw.Send(ctx, []realtime.Message{{Topic: "room", Event: "e", Payload: json.RawMessage(`{"n":1}`)}})
		pushed := time.Since(start)
		for _, r := range cs {
			at := <-r.got
			all = append(all, float64(at.Sub(start).Microseconds())/1000)
		}
		t.Logf("pushed in %v", pushed)
		time.Sleep(100 * time.Millisecond)
	}
	sort.Float64s(all)
	t.Logf("raw p50 %.1f p99 %.1f max %.1f", all[len(all)/2], all[len(all)*99/100], all[len(all)-1])
}
