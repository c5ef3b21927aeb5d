package main

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/wedsync/vendorhub/sidecar"
)

// cmdRun runs `vendorhub run`: the sidecar against DATABASE_URL, configured from the
// environment (README.md lists every variable), until SIGINT/SIGTERM.
func cmdRun(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	verbose := fs.Bool("v", false, "debug logs")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := sidecar.FromEnv(nil)
	if err != nil {
		return err
	}
	logger := newLogger(stderr, *verbose)
	sidecar.ApplyMemoryLimit(os.Getenv, logger)
	s, err := sidecar.New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// newLogger returns the process logger: text lines on w, debug level when verbose.
func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
