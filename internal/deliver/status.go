package deliver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/wedsync/vendorhub/internal/channel"
	"github.com/wedsync/vendorhub/internal/event"
	"github.com/wedsync/vendorhub/internal/notify"
	"github.com/wedsync/vendorhub/internal/route"
)

// Inbox sources whose rows are provider status callbacks.
const (
	SourceResend = "resend"
	SourceTwilio = "twilio"
)

// StatusArgs is the River job that applies one verified provider webhook (a
// vendorhub.webhook_inbox row of source resend or twilio) to the deliveries.
type StatusArgs struct {
	InboxID string `json:"inbox_id"`
	Source  string `json:"source"`
}

// Kind implements river.JobArgs.
func (StatusArgs) Kind() string { return "deliver.status" }

// InsertOpts implements river.JobArgsWithInsertOpts: one job per inbox row, whatever the
// replays.
func (StatusArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: notify.Queue, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// UniqueInserter inserts River jobs inside a transaction, honouring unique options;
// *river.Client[pgx.Tx] is one.
type UniqueInserter interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// StatusSink is the handoff.Sink that turns webhook.received events of the resend and
// twilio sources into StatusArgs jobs. Processing happens in the job, off the WAL path, so
// a malformed callback can never stall replication.
type StatusSink struct{ jobs UniqueInserter }

// NewStatusSink returns the sink.
func NewStatusSink(jobs UniqueInserter) *StatusSink { return &StatusSink{jobs: jobs} }

// Name implements handoff.Sink.
func (s *StatusSink) Name() string { return "deliver.status" }

// HandOff implements handoff.Sink.
func (s *StatusSink) HandOff(ctx context.Context, tx pgx.Tx, events []route.Routed) error {
	var params []river.InsertManyParams
	for _, ev := range events {
		if ev.Type != event.WebhookReceived {
			continue
		}
		var d struct {
			InboxID string `json:"inbox_id"`
			Source  string `json:"source"`
		}
		if json.Unmarshal(ev.Data, &d) != nil || d.InboxID == "" || (d.Source != SourceResend && d.Source != SourceTwilio) {
			continue
		}
		params = append(params, river.InsertManyParams{Args: StatusArgs{InboxID: d.InboxID, Source: d.Source}})
	}
	if len(params) == 0 {
		return nil
	}
	if _, err := s.jobs.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("deliver: status jobs: %w", err)
	}
	return nil
}

// StatusWorker applies provider status callbacks to deliveries: it moves the row of the
// provider's message id forward (queued < sent < delivered < opened; failed and suppressed
// are final), marks the recipient on a hard bounce, a complaint, STOP or an invalid number,
// and on a failure falls back to the next channel of the notification's chain.
type StatusWorker struct {
	river.WorkerDefaults[StatusArgs]
	pool *pgxpool.Pool
	w    *Worker
}

// NewStatusWorker returns the status worker; w supplies the channel senders and clock
// for fallbacks.
func NewStatusWorker(pool *pgxpool.Pool, w *Worker) *StatusWorker {
	return &StatusWorker{pool: pool, w: w}
}

// update is one status change a callback reports.
type update struct {
	provider, providerID string
	status               string // normalized; "" = informational only
	code, text           string
	mark                 string // recipient effect: bounced, opted_out, invalid_number
	fallback             bool
}

// ErrMalformedCallback marks a callback payload that cannot be applied; the inbox row
// keeps it, with the reason in last_error.
var ErrMalformedCallback = errors.New("deliver: malformed status callback")

// parseResend reads a Resend webhook event (https://resend.com/docs/dashboard/webhooks/event-types).
func parseResend(payload []byte) (update, error) {
	var ev struct {
		Type string `json:"type"`
		Data struct {
			EmailID string `json:"email_id"`
			Bounce  struct {
				Type    string `json:"type"`
				SubType string `json:"subType"`
				Message string `json:"message"`
			} `json:"bounce"`
		} `json:"data"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil || ev.Type == "" {
		return update{}, fmt.Errorf("%w: not a Resend event", ErrMalformedCallback)
	}
	u := update{provider: "resend", providerID: ev.Data.EmailID, code: ev.Type}
	switch ev.Type {
	case "email.sent":
		u.status = "sent"
	case "email.delivered":
		u.status = "delivered"
	case "email.opened", "email.clicked":
		u.status = "opened"
	case "email.bounced":
		u.status, u.fallback, u.text = "failed", true, ev.Data.Bounce.Message
		u.code = "bounced"
		if ev.Data.Bounce.Type == "Permanent" || ev.Data.Bounce.Type == "" {
			u.mark = "bounced" // a hard bounce: the address is undeliverable
		}
	case "email.complained":
		u.status, u.mark, u.code = "failed", "bounced", "complained" // stop email to a complaining address
	case "email.failed":
		u.status, u.fallback = "failed", true
	case "email.suppressed":
		u.status, u.fallback, u.mark = "suppressed", true, "bounced"
	default:
		u.status = "" // delivery_delayed, scheduled, received, contact.* …: nothing to record
	}
	if u.status != "" && u.providerID == "" {
		return update{}, fmt.Errorf("%w: %s without data.email_id", ErrMalformedCallback, ev.Type)
	}
	return u, nil
}

// parseTwilio reads a Twilio message status callback (form parameters stored as a JSON
// object by the ingress): MessageSid, MessageStatus, ErrorCode.
func parseTwilio(payload []byte) (update, error) {
	var p map[string]any
	if err := json.Unmarshal(payload, &p); err != nil {
		return update{}, fmt.Errorf("%w: not a JSON object", ErrMalformedCallback)
	}
	str := func(k string) string { s, _ := p[k].(string); return s }
	sid, status := str("MessageSid"), str("MessageStatus")
	if sid == "" {
		sid, status = str("SmsSid"), str("SmsStatus")
	}
	if sid == "" || status == "" {
		return update{}, fmt.Errorf("%w: no MessageSid/MessageStatus", ErrMalformedCallback)
	}
	u := update{provider: "twilio", providerID: sid, code: str("ErrorCode"), text: str("ErrorMessage")}
	switch status {
	case "sent":
		u.status = "sent"
	case "delivered":
		u.status = "delivered"
	case "read":
		u.status = "opened"
	case "failed", "undelivered", "canceled":
		u.status, u.fallback = "failed", true
		switch u.code {
		case "21610":
			u.mark = "opted_out"
		case "21211", "21614", "30005", "30006":
			u.mark = "invalid_number"
		}
	default:
		u.status = "" // queued, sending, accepted, scheduled, receiving, received: no change
	}
	return u, nil
}

// Work implements river.Worker.
func (sw *StatusWorker) Work(ctx context.Context, job *river.Job[StatusArgs]) error {
	tx, err := sw.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var source string
	var payload []byte
	var processed bool
	err = tx.QueryRow(ctx, `select source, payload, processed_at is not null from vendorhub.webhook_inbox where id = $1 for update`,
		job.Args.InboxID).Scan(&source, &payload, &processed)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && processed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deliver: status: load inbox: %w", err)
	}
	var u update
	switch source {
	case SourceResend:
		u, err = parseResend(payload)
	case SourceTwilio:
		u, err = parseTwilio(payload)
	default:
		err = fmt.Errorf("%w: source %q", ErrMalformedCallback, source)
	}
	outcome := ""
	if err == nil && u.status != "" {
		outcome, err = sw.apply(ctx, tx, u)
	}
	if err != nil && !errors.Is(err, ErrMalformedCallback) {
		return err
	}
	lastErr := outcome
	if err != nil {
		lastErr = err.Error()
	}
	if _, err := tx.Exec(ctx, `update vendorhub.webhook_inbox set processed_at = now(), attempts = attempts + 1,
last_error = nullif($2, '') where id = $1`, job.Args.InboxID, truncate(lastErr, maxErrorText)); err != nil {
		return fmt.Errorf("deliver: status: mark processed: %w", err)
	}
	if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// apply moves the matching delivery forward and applies the recipient effect. It returns
// a note for the inbox row when nothing matched.
func (sw *StatusWorker) apply(ctx context.Context, tx pgx.Tx, u update) (string, error) {
	rows, err := tx.Query(ctx, `
update public.deliveries d set status = $3,
  error_code = coalesce(nullif($4, ''), d.error_code), error = coalesce(nullif($5, ''), d.error)
where d.id = (select id from public.deliveries where provider = $1 and provider_id = $2 order by attempt desc limit 1)
  and vendorhub.delivery_status_rank($3) > vendorhub.delivery_status_rank(d.status)
returning d.notification_id::text, d.user_id::text, d.channel`, u.provider, u.providerID, u.status,
		truncate(u.code, 200), truncate(u.text, maxErrorText))
	if err != nil {
		return "", fmt.Errorf("deliver: status: update delivery: %w", err)
	}
	type hit struct {
		notification *string
		user, ch     string
	}
	hits, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (hit, error) {
		var h hit
		return h, r.Scan(&h.notification, &h.user, &h.ch)
	})
	if err != nil {
		return "", fmt.Errorf("deliver: status: update delivery: %w", err)
	}
	if len(hits) == 0 {
		return "no delivery moved (unknown " + u.provider + " id or status not newer)", nil
	}
	h := hits[0]
	switch u.mark {
	case "bounced":
		_, err = tx.Exec(ctx, `update public.notification_settings set email_bounced_at = now() where user_id = $1 and email_bounced_at is null`, h.user)
	case "opted_out":
		_, err = tx.Exec(ctx, `update public.notification_settings set sms_opted_out_at = now() where user_id = $1 and sms_opted_out_at is null`, h.user)
	case "invalid_number":
		_, err = tx.Exec(ctx, `update public.notification_settings set phone_invalid_at = now() where user_id = $1 and phone_invalid_at is null`, h.user)
	}
	if err != nil {
		return "", fmt.Errorf("deliver: status: mark recipient: %w", err)
	}
	if u.fallback && h.notification != nil {
		if err := sw.fallback(ctx, tx, *h.notification, h.user, channel.Kind(h.ch)); err != nil {
			return "", err
		}
	}
	return "", nil
}

// fallback re-plans the notification's chain for its recipient now and schedules the
// channel after failed, if any.
func (sw *StatusWorker) fallback(ctx context.Context, tx pgx.Tx, notificationID, userID string, failed channel.Kind) error {
	var category string
	if err := tx.QueryRow(ctx, `select category from public.notifications where id = $1`, notificationID).Scan(&category); err != nil {
		return fmt.Errorf("deliver: status: notification: %w", err)
	}
	r, err := notify.LoadRecipient(ctx, tx, userID)
	if err != nil {
		return err
	}
	plan := notify.Decide(r, category, sw.w.cfg.Now())
	i := slices.Index(notify.Order, failed)
	var rest []channel.Kind
	for _, ch := range plan.Chain {
		if slices.Index(notify.Order, ch) > i {
			rest = append(rest, ch)
		}
	}
	return sw.w.fallback(ctx, tx, notify.DeliverArgs{NotificationID: notificationID, UserID: userID, Channel: failed,
		Rest: rest, Critical: plan.Critical})
}
