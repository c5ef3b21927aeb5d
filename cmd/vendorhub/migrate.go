package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/jackc/pgx/v5"

	"github.com/wedsync/vendorhub/internal/migrate"
)

// cmdMigrate runs `vendorhub migrate`: the embedded SQL applied to DATABASE_URL.
func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("migrate", stderr)
	url := fs.String("db-url", os.Getenv("DATABASE_URL"), "database to migrate [DATABASE_URL]")
	shim := fs.String("shim", "auto", "apply sql/supabase_shim.sql: auto (only where Supabase objects are missing), always, never")
	seed := fs.Bool("seed", false, "apply supabase/seed.sql (demo data) as well")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *url == "" {
		return fmt.Errorf("%w: no database: set DATABASE_URL or -db-url", errUsage)
	}
	if *shim != "auto" && *shim != "always" && *shim != "never" {
		return fmt.Errorf("%w: -shim must be auto, always or never, not %q", errUsage, *shim)
	}
	conn, err := pgx.Connect(ctx, *url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	applyShim := *shim == "always"
	if *shim == "auto" {
		if applyShim, err = migrate.NeedsShim(ctx, conn); err != nil {
			return err
		}
	}
	return migrate.Apply(ctx, conn, migrate.Options{Shim: applyShim, Seed: *seed,
		Logf: func(f string, a ...any) { fmt.Fprintf(stdout, f+"\n", a...) }})
}
