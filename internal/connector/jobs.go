package connector

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wedsync/vendorhub/internal/calendar/outlook"
	"github.com/wedsync/vendorhub/internal/crm/lightblue"
	"github.com/wedsync/vendorhub/internal/integration"
)

// perConnection: at most one job of a kind waiting or running per connection; a later insert
// while one runs is absorbed (the next periodic round catches what it may have missed).
var perConnection = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled}}

// perEvent: one job per event key, ever (a replayed hand-off inserts nothing new).
var perEvent = river.UniqueOpts{ByArgs: true}

// SyncArgs syncs one calendar connection.
type SyncArgs struct {
	ConnectionID string           `json:"connection_id" river:"unique"`
	ConnKind     integration.Kind `json:"conn_kind"`
}

// Kind implements river.JobArgs.
func (SyncArgs) Kind() string { return "calendar.sync" }

// InsertOpts puts the job on its provider's queue, one per connection.
func (a SyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueOf(a.ConnKind), UniqueOpts: perConnection, MaxAttempts: 10}
}

// RenewArgs renews (or creates) a connection's push channel: a Google watch channel or a Graph
// subscription. Mode "reauthorize" answers Graph's reauthorizationRequired, "recreate" its
// subscriptionRemoved.
type RenewArgs struct {
	ConnectionID string           `json:"connection_id" river:"unique"`
	ConnKind     integration.Kind `json:"conn_kind"`
	Mode         string           `json:"mode,omitempty" river:"unique"`
}

// Kind implements river.JobArgs.
func (RenewArgs) Kind() string { return "calendar.renew" }

// InsertOpts puts the job on its provider's queue, one per connection and mode.
func (a RenewArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueOf(a.ConnKind), UniqueOpts: perConnection, MaxAttempts: 10}
}

// RefreshArgs refreshes a connection's OAuth token.
type RefreshArgs struct {
	ConnectionID string           `json:"connection_id" river:"unique"`
	ConnKind     integration.Kind `json:"conn_kind"`
}

// Kind implements river.JobArgs.
func (RefreshArgs) Kind() string { return "oauth.refresh" }

// InsertOpts puts the job on its provider's queue, one per connection.
func (a RefreshArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueOf(a.ConnKind), UniqueOpts: perConnection, MaxAttempts: 10}
}

// InboxArgs processes one stored webhook of a CRM or calendar source.
type InboxArgs struct {
	EventKey     string `json:"event_key" river:"unique"`
	InboxID      string `json:"inbox_id"`
	Source       string `json:"source"`
	ConnectionID string `json:"connection_id"`
}

// Kind implements river.JobArgs.
func (InboxArgs) Kind() string { return "integration.inbox" }

// InsertOpts: one job per event.
func (InboxArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueCRM, UniqueOpts: perEvent, MaxAttempts: 10}
}

// PushArgs pushes a new inquiry to a vendor's Light Blue inbox.
type PushArgs struct {
	EventKey        string `json:"event_key" river:"unique"`
	ConnectionID    string `json:"connection_id" river:"unique"`
	WeddingVendorID string `json:"wedding_vendor_id"`
}

// Kind implements river.JobArgs.
func (PushArgs) Kind() string { return "crm.push" }

// InsertOpts: one job per event and connection.
func (PushArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueLightBlue, UniqueOpts: perEvent, MaxAttempts: 15}
}

// ScheduleArgs runs the periodic scheduler.
type ScheduleArgs struct{}

// Kind implements river.JobArgs.
func (ScheduleArgs) Kind() string { return "integration.schedule" }

// InsertOpts: one scheduler round at a time.
func (ScheduleArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueCRM, UniqueOpts: perConnection, MaxAttempts: 3}
}

// SyncWorker runs calendar syncs.
type SyncWorker struct {
	river.WorkerDefaults[SyncArgs]
	c *Connectors
}

// Timeout bounds a sync (every call inside has its own, shorter timeout).
func (w *SyncWorker) Timeout(*river.Job[SyncArgs]) time.Duration { return JobTimeoutDefault }

// Work implements river.Worker.
func (w *SyncWorker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	if w.c.cfg.Syncer == nil {
		return river.JobCancel(errors.New("connector: no syncer configured"))
	}
	if job.Args.ConnKind == integration.ICal || job.Args.ConnKind == integration.LightBlue {
		// A feed URL still in plain config is sealed in the credential first.
		if moved, err := integration.SealFeedURL(ctx, w.c.cfg.Keyring, w.c.cfg.Pool, job.Args.ConnectionID); err != nil {
			return w.c.retry(job.JobRow, err)
		} else if moved {
			w.c.cfg.Logger.Info("connector: feed URL moved from config into the sealed credential", "connection", job.Args.ConnectionID)
		}
	}
	err := w.c.guard(job.Args.ConnectionID, func() error {
		_, err := w.c.cfg.Syncer.Sync(ctx, job.Args.ConnectionID)
		return err
	})
	return w.c.retry(job.JobRow, err)
}

// RefreshWorker refreshes OAuth tokens.
type RefreshWorker struct {
	river.WorkerDefaults[RefreshArgs]
	c *Connectors
}

// Work implements river.Worker.
func (w *RefreshWorker) Work(ctx context.Context, job *river.Job[RefreshArgs]) error {
	if w.c.cfg.Tokens == nil {
		return river.JobCancel(errors.New("connector: no token refresher configured"))
	}
	err := w.c.guard(job.Args.ConnectionID, func() error {
		_, err := w.c.cfg.Tokens.Refresh(ctx, job.Args.ConnectionID)
		return err
	})
	return w.c.retry(job.JobRow, err)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// webhookSecret returns the connection's inbound secret (Google channel token, Graph
// clientState), creating and sealing one when the connection has none.
func (c *Connectors) webhookSecret(ctx context.Context, connID string) (string, error) {
	tx, err := c.cfg.Pool.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, `select 1 from public.integration_connections where id = $1 for update`, connID); err != nil {
		return "", err
	}
	cred, err := integration.ReadCredential(ctx, c.cfg.Keyring, tx, connID)
	if err != nil {
		return "", err
	}
	if s, _, _ := strings.Cut(cred.Secret, " "); s != "" {
		return s, tx.Commit(ctx)
	}
	cred.Secret = randomHex(webhookSecretBytes)
	if err := integration.WriteCredential(ctx, c.cfg.Keyring, tx, connID, cred); err != nil {
		return "", err
	}
	return cred.Secret, tx.Commit(ctx)
}

func (c *Connectors) webhookURL(source, connID string) string {
	return strings.TrimRight(c.cfg.PublicURL, "/") + "/webhooks/" + source + "/" + url.PathEscape(connID)
}

// RenewWorker keeps Google watch channels and Graph subscriptions alive.
type RenewWorker struct {
	river.WorkerDefaults[RenewArgs]
	c *Connectors
}

// Work implements river.Worker.
func (w *RenewWorker) Work(ctx context.Context, job *river.Job[RenewArgs]) error {
	if w.c.cfg.PublicURL == "" {
		return river.JobCancel(errors.New("connector: no public URL configured for push channels"))
	}
	conn, err := integration.Load(ctx, w.c.cfg.Pool, job.Args.ConnectionID)
	if err != nil {
		return w.c.retry(job.JobRow, err)
	}
	if conn.Status != integration.StatusActive {
		return river.JobCancel(fmt.Errorf("connector: connection %s is %s", conn.ID, conn.Status))
	}
	switch conn.Kind {
	case integration.GoogleCalendar:
		err = w.c.guard(conn.ID, func() error { return w.c.renewGoogle(ctx, conn) })
	case integration.Outlook:
		err = w.c.guard(conn.ID, func() error { return w.c.renewOutlook(ctx, conn, job.Args.Mode) })
	default:
		return river.JobCancel(fmt.Errorf("connector: %s connections have no push channel", conn.Kind))
	}
	return w.c.retry(job.JobRow, err)
}

type channelState struct {
	id, resourceID string
	expires        *time.Time
}

func (c *Connectors) channel(ctx context.Context, q integration.Querier, connID string) (channelState, error) {
	var s channelState
	var id, res *string
	err := q.QueryRow(ctx, `select channel_id, channel_resource_id, channel_expires_at from vendorhub.calendar_sync where connection_id = $1`, connID).
		Scan(&id, &res, &s.expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, nil
	}
	if id != nil {
		s.id = *id
	}
	if res != nil {
		s.resourceID = *res
	}
	return s, err
}

func (c *Connectors) storeChannel(ctx context.Context, connID, id, resourceID string, expires time.Time) error {
	_, err := c.cfg.Pool.Exec(ctx, `insert into vendorhub.calendar_sync (connection_id, channel_id, channel_resource_id, channel_expires_at)
values ($1, nullif($2, ''), nullif($3, ''), $4)
on conflict (connection_id) do update set channel_id = excluded.channel_id, channel_resource_id = excluded.channel_resource_id,
  channel_expires_at = excluded.channel_expires_at, updated_at = now()`, connID, id, resourceID, expires)
	return err
}

// renewGoogle opens a new watch channel when the current one expires within RenewBefore (or
// there is none), then stops the old one: channels never renew themselves.
func (c *Connectors) renewGoogle(ctx context.Context, conn integration.Connection) error {
	if c.cfg.Google == nil {
		return river.JobCancel(errors.New("connector: no Google source configured"))
	}
	old, err := c.channel(ctx, c.cfg.Pool, conn.ID)
	if err != nil {
		return err
	}
	if old.id != "" && old.expires != nil && old.expires.After(c.cfg.Now().Add(c.cfg.RenewBefore)) {
		return nil
	}
	token, err := c.webhookSecret(ctx, conn.ID)
	if err != nil {
		return err
	}
	ch, err := c.cfg.Google.Watch(ctx, conn, "vh-"+randomHex(16), c.webhookURL("google-calendar", conn.ID), token, c.cfg.ChannelTTL)
	if err != nil {
		return err
	}
	if err := c.storeChannel(ctx, conn.ID, ch.ID, ch.ResourceID, ch.Expiration); err != nil {
		return err
	}
	if old.id != "" {
		if err := c.cfg.Google.Stop(ctx, conn, old.id, old.resourceID); err != nil {
			// The new channel is live; an old one that fails to stop just expires.
			c.cfg.Logger.Warn("connector: stop old Google channel", "connection", conn.ID, "error", err)
		}
	}
	return nil
}

// renewOutlook creates the subscription when missing (or removed), reauthorizes it on request,
// and renews it when it expires within RenewBefore.
func (c *Connectors) renewOutlook(ctx context.Context, conn integration.Connection, mode string) error {
	if c.cfg.Outlook == nil {
		return river.JobCancel(errors.New("connector: no Outlook source configured"))
	}
	cur, err := c.channel(ctx, c.cfg.Pool, conn.ID)
	if err != nil {
		return err
	}
	exp := c.cfg.Now().Add(c.cfg.SubscriptionTTL)
	if cur.id != "" && mode == "reauthorize" {
		err := c.cfg.Outlook.Reauthorize(ctx, conn, cur.id)
		if !errors.Is(err, outlook.ErrSubscriptionGone) {
			return err
		}
		cur.id = ""
	}
	if cur.id != "" && mode != "recreate" {
		if cur.expires != nil && cur.expires.After(c.cfg.Now().Add(c.cfg.RenewBefore)) {
			return nil
		}
		sub, err := c.cfg.Outlook.Renew(ctx, conn, cur.id, exp)
		if err == nil {
			return c.storeChannel(ctx, conn.ID, sub.ID, sub.Resource, sub.Expiration)
		}
		if !errors.Is(err, outlook.ErrSubscriptionGone) {
			return err
		}
	}
	clientState, err := c.webhookSecret(ctx, conn.ID)
	if err != nil {
		return err
	}
	target := c.webhookURL("outlook", conn.ID)
	sub, err := c.cfg.Outlook.Subscribe(ctx, conn, target, target, clientState, exp)
	if err != nil {
		return err
	}
	if err := c.storeChannel(ctx, conn.ID, sub.ID, sub.Resource, sub.Expiration); err != nil {
		return err
	}
	if mode == "recreate" {
		// Notifications may have been lost while the subscription was gone: resync.
		client, cerr := river.ClientFromContextSafely[pgx.Tx](ctx)
		if cerr == nil {
			_, cerr = client.Insert(ctx, SyncArgs{ConnectionID: conn.ID, ConnKind: conn.Kind}, nil)
		}
		return cerr
	}
	return nil
}

// InboxWorker processes a stored webhook: CRM payloads are applied; calendar notifications
// enqueue a sync (or a renewal, for Graph lifecycle notifications).
type InboxWorker struct {
	river.WorkerDefaults[InboxArgs]
	c *Connectors
}

// Work implements river.Worker.
func (w *InboxWorker) Work(ctx context.Context, job *river.Job[InboxArgs]) error {
	switch job.Args.Source {
	case "honeybook", "dubsado":
		if w.c.cfg.CRM == nil {
			return river.JobCancel(errors.New("connector: no CRM processor configured"))
		}
		out, err := w.c.cfg.CRM.Process(ctx, job.Args.InboxID)
		if err != nil {
			return err
		}
		if out.Err != nil {
			w.c.cfg.Logger.Warn("connector: CRM payload not applied", "inbox", job.Args.InboxID, "error", out.Err)
		}
		return nil
	case "google_calendar", "outlook":
		return w.c.calendarNotification(ctx, job.Args)
	}
	return river.JobCancel(fmt.Errorf("connector: inbox source %q is not a connector's", job.Args.Source))
}

// calendarNotification reads a Google or Graph notification and enqueues what it asks for, in
// the transaction that marks the inbox row processed.
func (c *Connectors) calendarNotification(ctx context.Context, a InboxArgs) error {
	tx, err := c.cfg.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	var payload []byte
	var processed *time.Time
	var kind integration.Kind
	err = tx.QueryRow(ctx, `select i.payload, i.processed_at, c.kind from vendorhub.webhook_inbox i
join public.integration_connections c on c.id = i.connection_id where i.id = $1 for update of i`, a.InboxID).Scan(&payload, &processed, &kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return river.JobCancel(fmt.Errorf("connector: inbox row %s (or its connection) is gone", a.InboxID))
	}
	if err != nil {
		return err
	}
	if processed != nil {
		return nil
	}
	var params []river.InsertManyParams
	sync := river.InsertManyParams{Args: SyncArgs{ConnectionID: a.ConnectionID, ConnKind: kind}}
	if a.Source == "google_calendar" {
		var h map[string]any
		_ = json.Unmarshal(payload, &h)
		if h["x-goog-resource-state"] != "sync" { // "sync" is the channel's handshake, not a change
			params = append(params, sync)
		}
	} else {
		var n struct {
			Value []struct {
				LifecycleEvent string `json:"lifecycleEvent"`
			} `json:"value"`
		}
		_ = json.Unmarshal(payload, &n)
		for _, v := range n.Value {
			switch v.LifecycleEvent {
			case "reauthorizationRequired":
				params = append(params, river.InsertManyParams{Args: RenewArgs{ConnectionID: a.ConnectionID, ConnKind: kind, Mode: "reauthorize"}})
			case "subscriptionRemoved":
				params = append(params, river.InsertManyParams{Args: RenewArgs{ConnectionID: a.ConnectionID, ConnKind: kind, Mode: "recreate"}})
			default: // a change, or "missed": resync
				params = append(params, sync)
			}
		}
	}
	if err := insert(ctx, tx, params); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `update vendorhub.webhook_inbox set processed_at = now(), attempts = attempts + 1 where id = $1`, a.InboxID); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// PushWorker pushes a hub inquiry into a vendor's Light Blue inbox.
type PushWorker struct {
	river.WorkerDefaults[PushArgs]
	c *Connectors
}

// Work implements river.Worker.
func (w *PushWorker) Work(ctx context.Context, job *river.Job[PushArgs]) error {
	if w.c.cfg.LightBlue == nil {
		return river.JobCancel(errors.New("connector: no Light Blue client configured"))
	}
	conn, err := integration.Load(ctx, w.c.cfg.Pool, job.Args.ConnectionID)
	if err != nil {
		return w.c.retry(job.JobRow, err)
	}
	if conn.Status != integration.StatusActive {
		return river.JobCancel(fmt.Errorf("connector: connection %s is %s", conn.ID, conn.Status))
	}
	found, err := inquiries(ctx, w.c.cfg.Pool, []string{job.Args.WeddingVendorID})
	if err != nil {
		return err
	}
	in, ok := found[job.Args.WeddingVendorID]
	if !ok {
		return river.JobCancel(fmt.Errorf("connector: wedding connection %s is gone", job.Args.WeddingVendorID))
	}
	e := lightblue.Enquiry{Reference: "vendorhub-" + in.WeddingVendorID, ContactNameFull: in.Couple, ContactEmail: in.ClientEmail,
		ShootDate: in.Date.Format(time.DateOnly), ShootType: "Wedding",
		Message: "New enquiry from vendorhub: " + in.Title + " on " + in.Date.Format("Monday 2 January 2006") + "."}
	cred, err := integration.ReadCredential(ctx, w.c.cfg.Keyring, w.c.cfg.Pool, conn.ID)
	if err != nil {
		return err
	}
	started := w.c.cfg.Now()
	var res lightblue.Result
	err = w.c.guard(conn.ID, func() error {
		var err error
		res, err = w.c.cfg.LightBlue.Push(ctx, cred.APIKey, e)
		return err
	})
	run := integration.Run{Connection: conn, StartedAt: started, Status: integration.RunOK}
	switch {
	case errors.Is(err, lightblue.ErrBadAPIKey) || lightblue.IsRejected(err):
		run.Status, run.Failed, run.Error = integration.RunFailed, 1, err
		if ferr := w.c.failConnection(ctx, conn, err); ferr != nil {
			return ferr
		}
		return river.JobCancel(err)
	case err != nil:
		return w.c.retry(job.JobRow, err)
	case res.Duplicate:
		run.Skipped = 1
	default:
		run.Created = 1
	}
	return integration.RecordRun(ctx, w.c.cfg.Pool, run)
}

// failConnection marks a connection in error and notifies the vendor (integration.failed), in
// one transaction, recording the failed run.
func (c *Connectors) failConnection(ctx context.Context, conn integration.Connection, cause error) error {
	return pgx.BeginFunc(ctx, c.cfg.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `update public.integration_connections set status = 'error', last_error = left($2, 2000), updated_at = now() where id = $1`,
			conn.ID, integration.PublicMessage(cause)); err != nil {
			return err
		}
		subject, _ := json.Marshal(map[string]any{"table": "integration_connections", "id": conn.ID, "vendor_id": conn.VendorID})
		data, _ := json.Marshal(map[string]any{"connection_id": conn.ID, "vendor_id": conn.VendorID, "kind": conn.Kind,
			"reason": "error", "error": integration.PublicMessage(cause)})
		if _, err := tx.Exec(ctx, `select vendorhub.emit('integration.failed', null, $1::jsonb, $2::jsonb)`, subject, data); err != nil {
			return err
		}
		return integration.RecordRun(ctx, tx, integration.Run{Connection: conn, StartedAt: c.cfg.Now(), Status: integration.RunFailed, Failed: 1, Error: cause})
	})
}

// ScheduleWorker enqueues the syncs, renewals and refreshes that are due.
type ScheduleWorker struct {
	river.WorkerDefaults[ScheduleArgs]
	c *Connectors
}

// Work implements river.Worker.
func (w *ScheduleWorker) Work(ctx context.Context, job *river.Job[ScheduleArgs]) error {
	return pgx.BeginFunc(ctx, w.c.cfg.Pool, func(tx pgx.Tx) error {
		params, err := w.c.Due(ctx, tx)
		if err != nil {
			return err
		}
		return insert(ctx, tx, params)
	})
}
