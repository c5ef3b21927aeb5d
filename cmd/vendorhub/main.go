// Command vendorhub is the vendorhub sidecar and its tools. It is a thin main: it parses the
// subcommand and its flags, turns SIGINT/SIGTERM into context cancellation, and maps errors to
// exit codes (1 for a failed command, 2 for bad usage). The work is done by package sidecar.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand. Each lives in its own file (dev.go, run.go, …) so that its owner
// edits that file only.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands in the order `vendorhub help` lists them.
var commands = []command{
	{"dev", "start an ephemeral Postgres with migrations and demo seed, print its URL, run until Ctrl-C", cmdDev},
	{"run", "run the sidecar against DATABASE_URL", cmdRun},
	{"migrate", "apply the shim (where needed), migrations and optionally the seed to DATABASE_URL", cmdMigrate},
	{"check", "check that DATABASE_URL is ready for the sidecar (wal_level, slots, roles, publication)", cmdCheck},
	{"report", "print the integration report of a time range (table, JSON or Markdown)", cmdReport},
	{"keys", "manage credential encryption keys", cmdKeys},
	{"version", "print the version", cmdVersion},
	{"help", "print this help", nil},
}

// errUsage marks a usage error: exit code 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" || name == "-help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name != name || c.run == nil {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "vendorhub %s: %v\n", name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "vendorhub %s: %v\n", name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "vendorhub: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: vendorhub <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'vendorhub <command> -h' for a command's flags. Configuration: see README.md.")
}

// newFlags returns a flag set for subcommand name that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("vendorhub "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args, wrapping bad flags and stray arguments as usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	return nil
}
