package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wedsync/vendorhub/internal/secret"
)

const keysUsage = `Usage: vendorhub keys <action> [flags]

Manage the AES-256-GCM keys that encrypt integration credentials and webhook secrets.
The keyring is VENDORHUB_ENCRYPTION_KEYS="new:<base64>,old:<base64>" (first = active).

Actions:
  generate [-id ID]  print a new key entry to put first in VENDORHUB_ENCRYPTION_KEYS
  list               list key ids: active, in this keyring, rows sealed with each, retired
  rotate             re-encrypt every row not under the active key (instances keep running)
  retire ID          retire a key no row uses any more (refused otherwise)

Rotation without downtime: deploy every instance with "new,old", run "vendorhub keys rotate",
then "vendorhub keys retire old", then drop old from the environment.
`

// cmdKeys runs `vendorhub keys`.
func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return fmt.Errorf("%w: an action is required", errUsage)
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, keysUsage)
		return nil
	}
	action, rest := args[0], args[1:]
	switch action {
	case "generate":
		fs := newFlags("keys generate", stderr)
		id := fs.String("id", "k"+time.Now().UTC().Format("20060102"), "key id (1-63 characters of [A-Za-z0-9_.-])")
		if err := parse(fs, rest); err != nil {
			return err
		}
		entry := *id + ":" + secret.EncodeKey(secret.GenerateKey())
		if _, err := secret.ParseKeyring(entry); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		fmt.Fprintln(stdout, entry)
		return nil
	case "list", "rotate", "retire":
	default:
		fmt.Fprint(stderr, keysUsage)
		return fmt.Errorf("%w: unknown action %q", errUsage, action)
	}

	fs := newFlags("keys "+action, stderr)
	url := fs.String("db-url", os.Getenv("DATABASE_URL"), "database [DATABASE_URL]")
	if err := fs.Parse(rest); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	var retireID string
	switch {
	case action == "retire" && fs.NArg() == 1:
		retireID = fs.Arg(0)
	case action == "retire":
		return fmt.Errorf("%w: retire takes one key id", errUsage)
	case fs.NArg() > 0:
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if *url == "" {
		return fmt.Errorf("%w: no database: set DATABASE_URL or -db-url", errUsage)
	}
	k, err := secret.ParseKeyring(os.Getenv(secret.EnvKeys))
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, *url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	actor := "cli"
	if u, err := user.Current(); err == nil {
		actor = "cli:" + u.Username
	}

	switch action {
	case "list":
		infos, err := k.List(ctx, pool)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY ID\tACTIVE\tIN KEYRING\tROWS\tREGISTERED\tRETIRED")
		for _, ki := range infos {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", ki.ID, yes(ki.Active), yes(ki.InKeyring), ki.Rows, when(ki.CreatedAt), when(ki.RetiredAt))
		}
		return tw.Flush()
	case "rotate":
		res, err := k.Rotate(ctx, pool, actor)
		for from, n := range res.Rewritten {
			fmt.Fprintf(stdout, "re-encrypted %d row(s) from %s to %s\n", n, from, k.ActiveKeyID())
		}
		if err != nil {
			return err
		}
		if len(res.Rewritten) == 0 {
			fmt.Fprintf(stdout, "every row is already under %s\n", k.ActiveKeyID())
		}
		return nil
	default: // retire
		if err := k.Retire(ctx, pool, retireID, actor); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "retired %s: remove it from %s\n", retireID, secret.EnvKeys)
		return nil
	}
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "-"
}

func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
