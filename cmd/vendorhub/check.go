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

// cmdCheck runs `vendorhub check`: every configuration variable (each bad one named), then
// the preflight checks against DATABASE_URL (or -db-url), one line per check; exit code 1
// when any of them failed.
func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", stderr)
	dbURL := fs.String("db-url", os.Getenv("DATABASE_URL"), "database to check [DATABASE_URL]")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, envErr := sidecar.FromEnv(nil)
	cfg.DatabaseURL = *dbURL
	if cfg.DatabaseURL == "" {
		return fmt.Errorf("%w: set DATABASE_URL or -db-url to the direct connection (port 5432)", errUsage)
	}
	cfg = cfg.WithDefaults()
	failed := printConfigErrors(stdout, errors.Join(envErr, cfg.Validate()))
	rep, err := preflight.Check(ctx, cfg.Preflight())
	rep.Print(stdout)
	failed += count(err)
	if failed > 0 {
		return fmt.Errorf("not ready for replication: %d check(s) failed (see FAIL lines above)", failed)
	}
	fmt.Fprintln(stdout, "ready for replication")
	return nil
}

// printConfigErrors prints one FAIL line per configuration error and returns their number.
func printConfigErrors(w io.Writer, err error) int {
	if err == nil {
		fmt.Fprintf(w, "%-4s  %-22s  %s\n", preflight.OK, "configuration", "every variable is valid")
		return 0
	}
	errs := flatten(err)
	for _, e := range errs {
		fmt.Fprintf(w, "%-4s  %-22s  %s\n", preflight.Fail, "configuration", e)
	}
	return len(errs)
}

// flatten returns the leaves of a tree of errors.Join errors.
func flatten(err error) []error {
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		return []error{err}
	}
	var out []error
	for _, e := range joined.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}

// count is the number of errors err joins (0 for nil).
func count(err error) int {
	if err == nil {
		return 0
	}
	return len(flatten(err))
}
