package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/wedsync/vendorhub/internal/preflight"
	"github.com/wedsync/vendorhub/sidecar"
)

// cmdCheck runs `vendorhub check`: the preflight checks against DATABASE_URL (or -db-url),
// one line per check; exit code 1 when any check failed.
func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", stderr)
	dbURL := fs.String("db-url", os.Getenv("DATABASE_URL"), "database to check [DATABASE_URL]")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := sidecar.FromEnv(nil)
	if err != nil {
		return err
	}
	cfg.DatabaseURL = *dbURL
	if cfg.DatabaseURL == "" {
		return fmt.Errorf("%w: set DATABASE_URL or -db-url to the direct connection (port 5432)", errUsage)
	}
	cfg = cfg.WithDefaults()
	rep, err := preflight.Check(ctx, preflight.Config{URL: cfg.DatabaseURL, Slot: cfg.Slot,
		Publication: cfg.Publication, StatusInterval: cfg.StatusInterval})
	rep.Print(stdout)
	if err != nil {
		var joined interface{ Unwrap() []error }
		n := 1
		if errors.As(err, &joined) {
			n = len(joined.Unwrap())
		}
		return fmt.Errorf("not ready for replication: %d check(s) failed (see FAIL lines above)", n)
	}
	fmt.Fprintln(stdout, "ready for replication")
	return nil
}
