package connector

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wedsync/vendorhub/internal/crm/dubsado"
	"github.com/wedsync/vendorhub/internal/integration"
)

// inquiries reads the hub inquiries behind wedding_vendors rows ids — the wedding, its date and
// zone, and its couple — for the CRM pushes (Light Blue enquiries, Dubsado projects). Rows that
// no longer exist are missing from the map.
func inquiries(ctx context.Context, q integration.Querier, ids []string) (map[string]dubsado.Inquiry, error) {
	rows, err := q.Query(ctx, `select wv.id::text, w.id::text, wv.vendor_id::text, w.title, w.wedding_date, w.timezone,
  coalesce((select string_agg(coalesce(u.raw_user_meta_data->>'full_name', u.email), ' & ' order by u.email)
            from public.wedding_couples c join auth.users u on u.id = c.user_id where c.wedding_id = w.id), ''),
  coalesce(f.email, ''), coalesce(f.full_name, '')
from public.wedding_vendors wv
join public.weddings w on w.id = wv.wedding_id
left join lateral (
  select u.email, u.raw_user_meta_data->>'full_name' as full_name
  from public.wedding_couples c join auth.users u on u.id = c.user_id
  where c.wedding_id = w.id order by c.created_at, u.email limit 1) f on true
where wv.id = any($1::text[]::uuid[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("connector: read inquiries: %w", err)
	}
	out := map[string]dubsado.Inquiry{}
	var in dubsado.Inquiry
	_, err = pgx.ForEachRow(rows, []any{&in.WeddingVendorID, &in.WeddingID, &in.VendorID, &in.Title, &in.Date, &in.TimeZone,
		&in.Couple, &in.ClientEmail, &in.ClientName}, func() error {
		in.Date = time.Date(in.Date.Year(), in.Date.Month(), in.Date.Day(), 0, 0, 0, 0, time.UTC)
		out[in.WeddingVendorID] = in
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("connector: read inquiries: %w", err)
	}
	return out, nil
}
