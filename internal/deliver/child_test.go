package deliver_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/wedsync/vendorhub/internal/channel"
	"github.com/wedsync/vendorhub/internal/deliver"
	"github.com/wedsync/vendorhub/internal/jobs"
	"github.com/wedsync/vendorhub/internal/notify"
	nt "github.com/wedsync/vendorhub/internal/notify/notifytest"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/internal/providerfake"
)

// The crash test runs a delivery worker in a child process (this test binary re-executed)
// so it can be killed with SIGKILL mid-delivery, like a sidecar losing its machine.
const (
	envChild     = "VENDORHUB_DELIVER_CHILD"
	envChildDB   = "VENDORHUB_DELIVER_CHILD_DB"
	envChildMail = "VENDORHUB_DELIVER_CHILD_RESEND"
)

// childMain runs the worker process when the binary was started as a child, and never
// returns then; otherwise it reports false.
func childMain() bool {
	if os.Getenv(envChild) != "1" {
		return false
	}
	err := runChild(os.Getenv(envChildDB), os.Getenv(envChildMail))
	fmt.Fprintln(os.Stderr, "child:", err)
	os.Exit(1)
	return true
}

func deliveryWorkers(pool *pgxpool.Pool, resendURL string) (*river.Workers, error) {
	email, err := channel.NewResend(channel.ResendConfig{APIKey: resendKey, From: "vendorhub <notify@vendorhub.test>", BaseURL: resendURL})
	if err != nil {
		return nil, err
	}
	w, err := deliver.NewWorker(pool, deliver.Config{Senders: map[channel.Kind]channel.Sender{channel.Email: email},
		RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, SendTimeout: time.Second})
	if err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	return workers, nil
}

func runChild(dbURL, resendURL string) error {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	workers, err := deliveryWorkers(pool, resendURL)
	if err != nil {
		return err
	}
	c, err := jobs.NewClient(pool, jobs.Config{Workers: workers, Queues: map[string]river.QueueConfig{notify.Queue: {MaxWorkers: 2}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	select {} // until killed
}

// TestNoDuplicateEmailAfterKill: the worker process dies after Resend accepted an email and
// before it recorded the result; the restarted worker sends the same request with the same
// idempotency key and Resend (the fake behaves like Resend) sends nothing twice.
func TestNoDuplicateEmailAfterKill(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	fake := providerfake.NewResend(resendKey)
	t.Cleanup(fake.Close)
	accepted, release := fake.Hold()
	t.Cleanup(release)

	p, err := notify.NewPlanner(notify.Config{}, nt.River(t, db.Pool, nil))
	require.NoError(t, err)
	u := nt.NewUser(t, db.Pool, nt.User{Email: "once@example.com"})
	e := &env{db: db, planner: p}
	n := e.notify(t, u.ID, notify.CategoryBooking)

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), envChild+"=1", envChildDB+"="+db.URL, envChildMail+"="+fake.URL())
	child.Stderr = os.Stderr
	require.NoError(t, child.Start())
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })

	var firstID string
	select {
	case firstID = <-accepted:
	case <-time.After(30 * time.Second):
		t.Fatal("the child never reached Resend")
	}
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_ = child.Wait()
	release()
	require.Zero(t, nt.Count(t, db.Pool, `select count(*) from public.deliveries where notification_id = $1`, n),
		"killed before recording anything")

	// The restarted worker: River's rescuer finds the job the dead process left running.
	workers, err := deliveryWorkers(db.Pool, fake.URL())
	require.NoError(t, err)
	c, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{Schema: jobs.Schema, Workers: workers,
		Queues:     map[string]river.QueueConfig{notify.Queue: {MaxWorkers: 2}},
		JobTimeout: time.Second, RescueStuckJobsAfter: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Stop(sctx)
	})
	require.Eventually(t, func() bool {
		return nt.Count(t, db.Pool, `select count(*) from public.deliveries where notification_id = $1 and status = 'sent'`, n) == 1
	}, 2*time.Minute, 100*time.Millisecond, "the restarted worker never recorded the email")

	reqs := fake.Requests()
	require.Len(t, reqs, 2, "the restarted worker asked again")
	require.NotEmpty(t, reqs[0].Header.Get("Idempotency-Key"))
	require.Equal(t, reqs[0].Header.Get("Idempotency-Key"), reqs[1].Header.Get("Idempotency-Key"))
	require.Equal(t, reqs[0].Body, reqs[1].Body)
	require.Len(t, fake.Sent(), 1, "Resend sent it once")
	var providerID string
	require.NoError(t, db.Pool.QueryRow(ctx, `select provider_id from public.deliveries where notification_id = $1`, n).Scan(&providerID))
	require.Equal(t, firstID, providerID, "the restarted worker recorded the first send's id")
	var state string
	require.NoError(t, db.Pool.QueryRow(ctx, `select state from river.river_job where kind = 'notify.deliver'`).Scan(&state))
	require.Equal(t, "completed", state)
}
