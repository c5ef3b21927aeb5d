package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"

	"github.com/wedsync/vendorhub/sidecar"
)

// cmdDev runs `vendorhub dev`: see sidecar.Dev.
func cmdDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dev", stderr)
	port := fs.Int("db-port", envInt("VENDORHUB_DEV_DB_PORT", sidecar.DevPortDefault), "Postgres port on 127.0.0.1 (a free one if taken) [VENDORHUB_DEV_DB_PORT]")
	noSeed := fs.Bool("no-seed", false, "do not apply supabase/seed.sql")
	verbose := fs.Bool("v", false, "log each SQL file applied")
	if err := parse(fs, args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	sidecar.ApplyMemoryLimit(os.Getenv, logger)
	return sidecar.Dev(ctx, sidecar.DevConfig{Port: *port, NoSeed: *noSeed, Out: stdout, Logger: logger,
		Serve: sidecar.ServeDev(nil, logger)})
}

// envInt reads an integer environment variable, def when unset or invalid.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
