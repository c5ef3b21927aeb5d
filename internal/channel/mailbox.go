package channel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// MailboxProvider is the provider name of the dev mailbox in deliveries rows.
const MailboxProvider = "devmailbox"

// Execer runs a query returning one row: a *pgxpool.Pool or a *pgx.Conn.
type Execer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Mailbox is the dev mailbox: instead of sending, it captures each message in
// vendorhub.dev_mailbox (shown on the dashboard). It checks recipients as the real
// providers do (no token, malformed address, non-E.164 number → Unreachable), so fallback
// behaves the same in dev, and it is idempotent per key like Resend.
type Mailbox struct {
	db Execer
}

// NewMailbox returns a Mailbox writing through db.
func NewMailbox(db Execer) *Mailbox { return &Mailbox{db: db} }

// Provider implements Sender.
func (m *Mailbox) Provider() string { return MailboxProvider }

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// Send implements Sender.
func (m *Mailbox) Send(ctx context.Context, msg Message) (Result, error) {
	res := Result{Provider: MailboxProvider}
	if !msg.Channel.Valid() {
		return res, permanent(MailboxProvider, "invalid_channel", fmt.Errorf("channel %q", msg.Channel))
	}
	if msg.IdempotencyKey == "" {
		return res, permanent(MailboxProvider, "missing_idempotency_key", errors.New("idempotency key required"))
	}
	switch msg.Channel {
	case Push:
		if len(msg.To) == 0 {
			return res, unreachable(MailboxProvider, CodeNoDevice, errors.New("no device token"))
		}
	case Email:
		if len(msg.To) != 1 {
			return res, unreachable(MailboxProvider, CodeInvalidAddress, errors.New("want exactly one address"))
		}
		if _, err := mail.ParseAddress(msg.To[0]); err != nil {
			return res, unreachable(MailboxProvider, CodeInvalidAddress, err)
		}
	case SMS:
		if len(msg.To) != 1 || !e164.MatchString(msg.To[0]) {
			return res, unreachable(MailboxProvider, CodeInvalidNumber, errors.New("not an E.164 number"))
		}
	}
	data, err := json.Marshal(msg.Data)
	if err != nil || msg.Data == nil {
		data = []byte("{}")
	}
	err = m.db.QueryRow(ctx, `
insert into vendorhub.dev_mailbox (channel, recipient, title, body, data, idempotency_key)
values ($1, $2, $3, $4, $5, $6)
on conflict (channel, idempotency_key) do update set idempotency_key = excluded.idempotency_key
returning id::text`, string(msg.Channel), strings.Join(msg.To, ","), msg.Title, msg.Body, data, msg.IdempotencyKey).Scan(&res.ProviderID)
	if err != nil {
		return res, transient(MailboxProvider, err)
	}
	res.Accepted = 1
	return res, nil
}
