package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/edge"
)

// serve runs an edge server for h on a loopback port and returns its address.
func serve(t *testing.T, h http.Handler, cfg edge.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := edge.NewServer(h, cfg)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// short are small limits, so the test's slow clients hit them at once.
func short() edge.Config {
	return edge.Config{ReadHeaderTimeout: 150 * time.Millisecond, ReadTimeout: 300 * time.Millisecond,
		WriteTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond, MaxHeaderBytes: 4 << 10,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// readUntilClosed reads c until the server ends the connection and returns what came. The
// 10 s deadline only keeps a broken server from hanging the test: it fails the assertion.
func readUntilClosed(t *testing.T, c net.Conn) string {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	b, err := io.ReadAll(c)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server did not close the connection")
	return string(b)
}

// A client that never finishes its headers is cut off.
func TestSlowHeadersAreCutOff(t *testing.T) {
	t.Parallel()
	called := make(chan struct{}, 1)
	addr := serve(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called <- struct{}{} }), short())
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	require.NoError(t, err)
	got := readUntilClosed(t, c)
	require.NotContains(t, got, "200 OK")
	require.Empty(t, called, "the handler never ran")
}

// A client that sends its headers and then trickles the body has the body read fail.
func TestSlowBodyIsCutOff(t *testing.T) {
	t.Parallel()
	readErr := make(chan error, 1)
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
		if err != nil {
			http.Error(w, "body", http.StatusBadRequest)
		}
	}), short())
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\npartial")
	require.NoError(t, err)
	err = <-readErr
	require.Error(t, err)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	readUntilClosed(t, c)
}

// A handler still writing when WriteTimeout passes gets a write error, and the client a
// truncated answer.
func TestSlowAnswerIsCutOff(t *testing.T) {
	t.Parallel()
	writeErr := make(chan error, 1)
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 1024)
		rc := http.NewResponseController(w)
		for {
			if _, err := w.Write(chunk); err != nil {
				writeErr <- err
				return
			}
			if err := rc.Flush(); err != nil {
				writeErr <- err
				return
			}
			if r.Context().Err() != nil {
				writeErr <- r.Context().Err()
				return
			}
		}
	}), short())
	resp, err := http.Get("http://" + addr + "/")
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF, "the chunked answer ends unfinished")
	// The handler stopped: its write hit the deadline, or the server saw the connection end.
	err = <-writeErr
	require.True(t, errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.Canceled), "handler ended with %v", err)
}

// Headers above MaxHeaderBytes get 431.
func TestHeaderLimit(t *testing.T) {
	t.Parallel()
	addr := serve(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), short())
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
}

// A WebSocket outlives ReadTimeout and WriteTimeout: its handler clears the deadlines.
func TestWebSocketOutlivesRequestTimeouts(t *testing.T) {
	t.Parallel()
	cfg := short()
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		edge.ClearDeadlines(w)
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		for {
			typ, b, err := ws.Read(r.Context())
			if err != nil {
				return
			}
			if err := ws.Write(r.Context(), typ, b); err != nil {
				return
			}
		}
	}), cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/", nil)
	require.NoError(t, err)
	defer ws.CloseNow()
	// Echo for three times the longest timeout: every round trip must succeed.
	end := time.After(3 * max(cfg.ReadTimeout, cfg.WriteTimeout))
	for n := 0; ; n++ {
		select {
		case <-end:
			require.Greater(t, n, 1)
			return
		default:
		}
		require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte("ping")), "round trip %d", n)
		_, b, err := ws.Read(ctx)
		require.NoError(t, err, "round trip %d", n)
		require.Equal(t, "ping", string(b))
		timer := time.NewTimer(20 * time.Millisecond) // pace the round trips
		<-timer.C
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func panics(listener string) float64 {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(edge.Collectors()...)
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "listener" && l.GetValue() == listener {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// A panicking handler gets 500, a log line with the panic and a count; the server lives on.
func TestRecover(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	cfg := short()
	cfg.Name = "recover_test"
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("/boom", func(http.ResponseWriter, *http.Request) { panic("kaboom at the edge") })
	mux.HandleFunc("/half", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("partial answer"))
		http.NewResponseController(w).Flush()
		panic("after the headers")
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("fine")) })
	addr := serve(t, mux, cfg)
	before := panics("recover_test")

	resp, err := http.Get("http://" + addr + "/boom")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Equal(t, "Internal Server Error\n", string(body))
	require.Contains(t, logs.String(), "handler panicked")
	require.Contains(t, logs.String(), "kaboom at the edge")
	require.Contains(t, logs.String(), "path=/boom")
	require.Equal(t, before+1, panics("recover_test"))

	// A panic after the answer began ends the connection: the client sees a broken answer.
	resp, err = http.Get("http://" + addr + "/half")
	require.NoError(t, err)
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Error(t, err)
	require.Equal(t, before+2, panics("recover_test"))

	resp, err = http.Get("http://" + addr + "/ok")
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "fine", string(body))
}

// The recover middleware keeps Hijack reachable (WebSockets) through its writer.
func TestRecoverKeepsHijack(t *testing.T) {
	t.Parallel()
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer c.Close()
		_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		_ = brw.Flush()
	}), short())
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, "hijacked", string(b))
}
