// webhook-inbox: a Supabase edge function that receives Standard Webhooks at the edge, verifies
// the signature before storing anything, and inserts the webhook into vendorhub.webhook_inbox
// with supabase-js (rpc() of public.webhook_inbox_insert, service_role only). The insert
// trigger emits webhook.received into the WAL, so the sidecar processes it like one it received
// itself. supabase-js is npm:@supabase/supabase-js, pinned in deno.json "imports" to the
// version of the repository's package.json.
//
// Secrets (supabase secrets set …):
//   WEBHOOK_SECRET          whsec_… (several separated by spaces during a rotation)   required
//   WEBHOOK_SOURCE          webhook_inbox.source, default "standard"
//   WEBHOOK_CONNECTION_ID   integration_connections.id of the sender, optional
//   WEBHOOK_MAX_BODY_BYTES  default 262144
// SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY are provided by the platform.

import { createHandler, supabaseStore } from "./handler.ts";

const env = (name: string, fallback = "") => Deno.env.get(name) ?? fallback;

const secrets = env("WEBHOOK_SECRET").split(/\s+/).filter(Boolean);
if (secrets.length === 0) console.error("webhook-inbox: WEBHOOK_SECRET is not set; every request will be refused");

Deno.serve(
  createHandler({
    secrets,
    source: env("WEBHOOK_SOURCE", "standard"),
    connectionId: env("WEBHOOK_CONNECTION_ID") || null,
    maxBodyBytes: Number(env("WEBHOOK_MAX_BODY_BYTES", "262144")),
    now: () => Math.floor(Date.now() / 1000),
    store: supabaseStore(env("SUPABASE_URL"), env("SUPABASE_SERVICE_ROLE_KEY")),
  }),
);
