-- CRM actions through outbound webhooks: an outbound endpoint may belong to an
-- integration connection.
--
-- Dubsado has no API the hub could call: its "Create Project" action runs in the vendor's Zap,
-- triggered by a "Webhooks by Zapier" catch hook. That catch hook is registered as a
-- webhook_endpoints row of the vendor with connection_id = the Dubsado connection; the sidecar
-- then sends it a Standard Webhooks-signed POST with the fields Dubsado's action needs for every
-- new inquiry of the vendor (package connector), through the same deliveries, retries, secrets
-- and replay as every other endpoint. Such an endpoint receives only what its connection's
-- connector sends (its event_types are ignored), never the generic events.
--
-- The connection must be the endpoint's vendor's: a composite foreign key on (connection_id,
-- vendor_id), so a member cannot point an endpoint at another vendor's connection.
alter table public.integration_connections
  add constraint integration_connections_id_vendor_id_key unique (id, vendor_id);

alter table public.webhook_endpoints
  add column connection_id uuid,
  add constraint webhook_endpoints_connection_fkey foreign key (connection_id, vendor_id)
    references public.integration_connections (id, vendor_id) on delete cascade;
create unique index webhook_endpoints_connection_id_idx on public.webhook_endpoints (connection_id)
  where connection_id is not null;
comment on column public.webhook_endpoints.connection_id is
  'The integration connection this endpoint serves (e.g. a Dubsado connection''s Zapier catch hook): it receives only that connection''s messages.';

-- Members register their connection's catch hook through PostgREST like any endpoint.
grant insert (connection_id), update (connection_id) on public.webhook_endpoints to authenticated;
