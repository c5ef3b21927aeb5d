package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wedsync/vendorhub/internal/embeddedpg"
	"github.com/wedsync/vendorhub/internal/pgtest"
	"github.com/wedsync/vendorhub/sidecar"
)

func init() { register("harness", benchHarness) }

// benchHarness measures the test harness and `vendorhub dev`: cluster start (initdb included),
// template build, per-test database clone (FILE_COPY, with WAL_LOG as the baseline) and drop,
// and the time `vendorhub dev` takes to print its connection string.
func benchHarness(ctx context.Context, env *Env) error {
	const starts, clones = 3, 10
	var total time.Duration
	for range starts {
		began := time.Now()
		c, err := embeddedpg.Start(ctx, embeddedpg.Config{ForTests: true})
		if err != nil {
			return err
		}
		total += time.Since(began)
		if err := c.Stop(); err != nil {
			return err
		}
	}
	env.Record("harness_cluster_start_seconds", total.Seconds()/starts)

	// A test binary's cluster, as pgtest runs it.
	c, err := embeddedpg.Start(ctx, embeddedpg.Config{ForTests: true})
	if err != nil {
		return err
	}
	defer c.Stop()
	admin := c.URL("postgres")
	began := time.Now()
	_, drop, err := pgtest.CreateDB(ctx, admin, false) // builds the template, then clones it
	if err != nil {
		return err
	}
	env.Record("harness_template_build_seconds", time.Since(began).Seconds())
	if err := drop(); err != nil {
		return err
	}

	var cloneTotal, dropTotal time.Duration
	for range clones {
		began := time.Now()
		_, drop, err = pgtest.CreateDB(ctx, admin, false)
		if err != nil {
			return err
		}
		cloneTotal += time.Since(began)
		began = time.Now()
		if err := drop(); err != nil {
			return err
		}
		dropTotal += time.Since(began)
	}
	env.Record("harness_db_clone_seconds", cloneTotal.Seconds()/clones)
	env.Record("harness_db_drop_seconds", dropTotal.Seconds()/clones)

	// Baseline: the default CREATE DATABASE strategy (WAL_LOG) from the same template.
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var tmpl string
	if err := conn.QueryRow(ctx, "select datname from pg_database where datistemplate and datname like 'vendorhub_tmpl_%'").Scan(&tmpl); err != nil {
		return fmt.Errorf("find template: %w", err)
	}
	var walTotal time.Duration
	for i := range clones {
		name := fmt.Sprintf("bench_wal_log_%d", i)
		began := time.Now()
		if _, err := conn.Exec(ctx, fmt.Sprintf("create database %s template %s strategy wal_log", name, pgx.Identifier{tmpl}.Sanitize())); err != nil {
			return err
		}
		walTotal += time.Since(began)
		if _, err := conn.Exec(ctx, "drop database "+name); err != nil {
			return err
		}
	}
	env.Record("harness_db_clone_wal_log_seconds", walTotal.Seconds()/clones)

	ready, err := devReady(ctx)
	if err != nil {
		return err
	}
	env.Record("harness_dev_ready_seconds", ready.Seconds())
	return nil
}

// devReady runs sidecar.Dev (durable settings, migrations and seed) on a free port and returns
// the time until it printed DATABASE_URL.
func devReady(ctx context.Context) (time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &signalWriter{want: []byte("DATABASE_URL="), seen: make(chan struct{})}
	began := time.Now()
	done := make(chan error, 1)
	go func() { done <- sidecar.Dev(ctx, sidecar.DevConfig{Port: freePortForDev(), Out: w}) }()
	select {
	case <-w.seen:
		elapsed := time.Since(began)
		cancel()
		return elapsed, <-done
	case err := <-done:
		return 0, errors.Join(errors.New("dev exited before printing DATABASE_URL"), err)
	}
}

// freePortForDev picks a port other than the default, so a running `make run` is not disturbed.
func freePortForDev() int {
	c, err := embeddedpg.FreePort()
	if err != nil {
		return 0
	}
	return c
}

// signalWriter closes seen once want has been written.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want []byte
	seen chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if bytes.Contains(w.buf.Bytes(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}
