package sidecar

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wedsync/vendorhub/internal/embeddedpg"
	"github.com/wedsync/vendorhub/internal/migrate"
)

// DevPortDefault is the dev database port: the one `supabase start` gives its database, so
// tools set up for a local Supabase stack find vendorhub's.
const DevPortDefault = 54322

// DevDatabase is the database `vendorhub dev` migrates and seeds (Supabase's name).
const DevDatabase = "postgres"

// DevConfig configures Dev.
type DevConfig struct {
	// Port is the Postgres port on 127.0.0.1; when it is taken, a free port is used instead
	// (and printed). Defaults to 54322.
	Port int
	// NoSeed skips supabase/seed.sql. Defaults to false: the demo seed is applied.
	NoSeed bool
	// Out receives the connection details. Defaults to os.Stdout.
	Out io.Writer
	// Logger receives progress lines. Defaults to none (discarded).
	Logger *slog.Logger
	// Serve runs with the dev database until ctx ends and returns nil then; the sidecar stages
	// hook in here. Defaults to waiting for ctx.
	Serve func(ctx context.Context, env DevEnv) error
}

// DevEnv is what Dev hands to DevConfig.Serve.
type DevEnv struct {
	DatabaseURL string              // superuser URL of the migrated, seeded database
	Cluster     *embeddedpg.Cluster // the ephemeral cluster
	Started     time.Time           // when Dev began, to report time-to-ready
	Out         io.Writer           // where Dev prints the connection details
}

// Dev starts an ephemeral Postgres (wal_level=logical, durable settings), applies the shim,
// the migrations and the seed, prints the connection details, runs cfg.Serve until ctx ends,
// then stops the cluster and removes its files.
func Dev(ctx context.Context, cfg DevConfig) error {
	began := time.Now()
	out := cmp.Or[io.Writer](cfg.Out, os.Stdout)
	log := cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	port := cmp.Or(cfg.Port, DevPortDefault)
	if port < 0 || port > 65535 {
		return fmt.Errorf("dev: port %d out of range", port)
	}
	if !portFree(port) {
		log.Warn("dev database port taken, using a free one", "port", port)
		port = 0
	}
	cluster, err := embeddedpg.Start(ctx, embeddedpg.Config{Port: port})
	if err != nil {
		return fmt.Errorf("dev: start Postgres: %w", err)
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			log.Error("dev: stop Postgres", "err", err)
		}
		fmt.Fprintf(out, "vendorhub dev: Postgres stopped, %s removed\n", cluster.Dir())
	}()
	url := cluster.URL(DevDatabase)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("dev: connect: %w", err)
	}
	err = migrate.Apply(ctx, conn, migrate.Options{Shim: true, Seed: !cfg.NoSeed,
		Logf: func(f string, a ...any) { log.Debug(fmt.Sprintf(f, a...)) }})
	_ = conn.Close(context.Background())
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	applied := "migrations and seed"
	if cfg.NoSeed {
		applied = "migrations"
	}
	fmt.Fprintf(out, "vendorhub dev: Postgres %s (wal_level=logical) ready on 127.0.0.1:%d in %.1fs, %s applied\n",
		cluster.Version(), cluster.Port(), time.Since(began).Seconds(), applied)
	fmt.Fprintf(out, "  DATABASE_URL=%s\n", url)
	fmt.Fprintf(out, "  psql '%s'\n", url)
	fmt.Fprintf(out, "  supabase migration list --db-url '%s'\n", url)
	fmt.Fprintf(out, "  data directory %s (removed on exit); press Ctrl-C to stop\n", cluster.Dir())

	serve := cfg.Serve
	if serve == nil {
		serve = func(ctx context.Context, _ DevEnv) error { <-ctx.Done(); return nil }
	}
	err = serve(ctx, DevEnv{DatabaseURL: url, Cluster: cluster, Started: began, Out: out})
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		err = nil
	}
	return err
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}
