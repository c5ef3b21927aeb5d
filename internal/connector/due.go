package connector

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/wedsync/vendorhub/internal/integration"
	"github.com/wedsync/vendorhub/internal/oauth"
)

// Due returns the jobs the scheduler should insert now: syncs of calendars not synced within
// their interval, renewals of channels and subscriptions missing or expiring within
// RenewBefore, and refreshes of OAuth tokens expiring within the margin or idle for a day.
func (c *Connectors) Due(ctx context.Context, q integration.Querier) ([]river.InsertManyParams, error) {
	var params []river.InsertManyParams
	rows, err := q.Query(ctx, `select c.id::text, c.kind from public.integration_connections c
where c.status = 'active' and (
  (c.kind in ('google_calendar', 'outlook') and (c.last_sync_at is null or c.last_sync_at < now() - $1::interval))
  or (c.kind in ('ical', 'lightblue') and (c.config ? 'feed_url' or c.config ? 'feed_sealed') and (c.last_sync_at is null or c.last_sync_at < now() - $2::interval)))
order by c.last_sync_at nulls first limit $3`, c.cfg.SyncInterval, c.cfg.FeedInterval, ScheduleBatchDefault)
	if err != nil {
		return nil, err
	}
	type due struct {
		id   string
		kind integration.Kind
	}
	scan := func(r pgx.CollectableRow) (due, error) {
		var d due
		return d, r.Scan(&d.id, &d.kind)
	}
	syncs, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, err
	}
	for _, d := range syncs {
		params = append(params, river.InsertManyParams{Args: SyncArgs{ConnectionID: d.id, ConnKind: d.kind}})
	}
	if c.cfg.PublicURL != "" {
		kinds := []string{}
		if c.cfg.Google != nil {
			kinds = append(kinds, string(integration.GoogleCalendar))
		}
		if c.cfg.Outlook != nil {
			kinds = append(kinds, string(integration.Outlook))
		}
		rows, err := q.Query(ctx, `select c.id::text, c.kind from public.integration_connections c
left join vendorhub.calendar_sync s on s.connection_id = c.id
where c.status = 'active' and c.kind = any($1)
  and exists (select 1 from vendorhub.integration_credentials k where k.connection_id = c.id)
  and (s.channel_id is null or s.channel_expires_at is null or s.channel_expires_at < now() + $2::interval)
limit $3`, kinds, c.cfg.RenewBefore, ScheduleBatchDefault)
		if err != nil {
			return nil, err
		}
		renewals, err := pgx.CollectRows(rows, scan)
		if err != nil {
			return nil, err
		}
		for _, d := range renewals {
			params = append(params, river.InsertManyParams{Args: RenewArgs{ConnectionID: d.id, ConnKind: d.kind}})
		}
	}
	if c.cfg.Tokens != nil {
		margin := c.cfg.Tokens.Margin
		if margin <= 0 {
			margin = oauth.MarginDefault
		}
		ids, err := oauth.Due(ctx, q, margin, oauth.IdleRefreshDefault)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			var kind integration.Kind
			if err := q.QueryRow(ctx, `select kind from public.integration_connections where id = $1`, id).Scan(&kind); err != nil {
				return nil, err
			}
			params = append(params, river.InsertManyParams{Args: RefreshArgs{ConnectionID: id, ConnKind: kind}})
		}
	}
	return params, nil
}
