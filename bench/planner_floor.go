package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wedsync/vendorhub/bench/results"
	"github.com/wedsync/vendorhub/internal/jobs"
	"github.com/wedsync/vendorhub/internal/notify"
	"github.com/wedsync/vendorhub/internal/notify/notifytest"
)

// sysPlanner measures the notification planner's hand-off as shipped (default configuration)
// in decisions per second, against a floor: the rows and jobs it wrote (notifications,
// deliveries, River jobs) inserted again with plain multi-row INSERTs, in the same number of
// transactions of the same sizes.
func sysPlanner(ctx context.Context, env *Env) error {
	const weddings, rounds, perHandOff = 30, 20, 50
	db, err := env.NewDB(ctx, false)
	if err != nil {
		return err
	}
	ws, err := nbFixture(ctx, db.Pool, weddings, notifyVendors)
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	client, err := jobs.NewClient(db.Pool, jobs.Config{Logger: quiet})
	if err != nil {
		return err
	}
	planner, err := notify.NewPlanner(notify.Config{Logger: quiet}, client)
	if err != nil {
		return err
	}
	// Group-chat messages from a vendor, one per wedding per round, a minute apart: with the
	// default 2-minute window every other round notifies the 30 other members, the rest are
	// held for a digest.
	start := time.Now()
	lsn := uint64(0x1000000)
	chats := make([]notifytest.GroupChat, len(ws))
	for i, w := range ws {
		chats[i] = notifytest.GroupChat{WeddingID: w.id, ConversationID: w.group, Couple: w.couple, Vendors: w.vendors}
	}
	events := notifytest.GroupChatMessages(chats, rounds, start, time.Minute, &lsn)
	if _, err := db.Pool.Exec(ctx, `analyze; checkpoint`); err != nil {
		return err
	}
	var mark time.Time
	if err := db.Pool.QueryRow(ctx, `select clock_timestamp()`).Scan(&mark); err != nil {
		return err
	}
	began := time.Now()
	txs := 0
	for i := 0; i < len(events); i += perHandOff {
		chunk := events[i:min(i+perHandOff, len(events))]
		if err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error { return planner.HandOff(ctx, tx, chunk) }); err != nil {
			return err
		}
		txs++
	}
	elapsed := time.Since(began)
	decisions := len(events) * notifyVendors

	// The rows it wrote, to insert again as the floor.
	type table struct {
		name, cols, read string
		rows             [][]any
	}
	tables := []*table{
		{name: "public.notifications", cols: "user_id, wedding_id, category, title, body, data, event_key",
			read: `select user_id, wedding_id, category::text, title, body, data, event_key || '/floor' from public.notifications where created_at >= $1`},
		{name: "public.deliveries", cols: "notification_id, user_id, channel, provider, status, attempt, event_key",
			read: `select notification_id, user_id, channel::text, provider, status, attempt + 1000, event_key from public.deliveries where created_at >= $1`},
		{name: "river.river_job", cols: "kind, args, queue, max_attempts, priority, state, scheduled_at",
			read: `select kind, args, queue, max_attempts, priority, 'scheduled'::river.river_job_state, now() + interval '1 day' from river.river_job where created_at >= $1`},
	}
	rowsWritten := 0
	for _, t := range tables {
		rows, err := db.Pool.Query(ctx, t.read, mark)
		if err != nil {
			return fmt.Errorf("floor: read %s: %w", t.name, err)
		}
		for rows.Next() {
			v, err := rows.Values()
			if err != nil {
				return err
			}
			t.rows = append(t.rows, v)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rowsWritten += len(t.rows)
	}
	if _, err := db.Pool.Exec(ctx, `checkpoint`); err != nil {
		return err
	}
	// Floor: the same rows in txs transactions, each a multi-row INSERT per table.
	floorBegan := time.Now()
	for k := range txs {
		err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
			for _, t := range tables {
				lo, hi := k*len(t.rows)/txs, (k+1)*len(t.rows)/txs
				if hi == lo {
					continue
				}
				if _, err := tx.Exec(ctx, multiRowInsert(t.name, t.cols, hi-lo), slices.Concat(t.rows[lo:hi]...)...); err != nil {
					return fmt.Errorf("floor: %s: %w", t.name, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	floorElapsed := time.Since(floorBegan)
	value, floor := float64(decisions)/elapsed.Seconds(), float64(decisions)/floorElapsed.Seconds()
	env.Run.Add(results.NewFigure("notify.planner.decisions_per_s", value, "1/s",
		"the same notification, delivery and River job rows written with plain multi-row INSERTs in as many transactions of the same sizes", floor,
		&results.Goal{Of: "ratio", Limit: 0.5},
		fmt.Sprintf("planner hand-off with the default configuration: %d weddings × %d rounds of group-chat messages (31 members), %d events per hand-off; %d rows written", weddings, rounds, perHandOff, rowsWritten)))
	env.Logf("planner: %d decisions in %s (%d transactions, %d rows); floor %s", decisions, elapsed.Round(time.Millisecond), txs, rowsWritten, floorElapsed.Round(time.Millisecond))
	return nil
}

// multiRowInsert is "insert into name (cols) values ($1, …), (…)" for n rows.
func multiRowInsert(name, cols string, n int) string {
	width := len(strings.Split(cols, ","))
	var b strings.Builder
	fmt.Fprintf(&b, "insert into %s (%s) values ", name, cols)
	for r := range n {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range width {
			if c > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", r*width+c+1)
		}
		b.WriteByte(')')
	}
	return b.String()
}
