// The request handler of the webhook-inbox edge function, with its dependencies injected so
// that it can be tested without a network (handler_test.ts).

import { verify, VerifyError } from "./verify.ts";

export type StoreOutcome = "stored" | "duplicate";

/** A row for vendorhub.webhook_inbox, written through public.webhook_inbox_insert(). */
export interface InboxRow {
  source: string;
  connection_id: string | null;
  provider_event_id: string;
  headers: Record<string, string>;
  payload: unknown;
}

export interface Deps {
  /** Accepted signing secrets ("whsec_…"); several during a rotation. */
  secrets: string[];
  /** webhook_inbox.source value. */
  source: string;
  /** integration_connections.id of the sender, if any. */
  connectionId: string | null;
  /** Largest accepted body, bytes. */
  maxBodyBytes: number;
  /** Current unix time, seconds. */
  now: () => number;
  /** Stores one verified webhook (ON CONFLICT DO NOTHING on source + event id). */
  store: (row: InboxRow) => Promise<StoreOutcome>;
}

const json = (status: number, body: unknown, extra: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...extra },
  });

const KEPT_HEADERS = ["content-type", "user-agent", "webhook-id", "webhook-timestamp"];

/** Reads at most limit+1 bytes of the body, so an oversized body is detected without buffering it all. */
async function readLimited(req: Request, limit: number): Promise<Uint8Array | null> {
  if (!req.body) return new Uint8Array();
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

function containsNul(v: unknown): boolean {
  if (typeof v === "string") return v.includes("\u0000");
  if (Array.isArray(v)) return v.some(containsNul);
  if (v && typeof v === "object") {
    return Object.entries(v).some(([k, x]) => k.includes("\u0000") || containsNul(x));
  }
  return false;
}

export function createHandler(deps: Deps): (req: Request) => Promise<Response> {
  return async (req: Request) => {
    if (req.method !== "POST") return json(405, { error: "Method Not Allowed" }, { allow: "POST" });
    const declared = Number(req.headers.get("content-length") ?? "0");
    // 413 with the sidecar ingress's body (Go's status text), so both answer alike.
    if (declared > deps.maxBodyBytes) return json(413, { error: "Request Entity Too Large" });
    const body = await readLimited(req, deps.maxBodyBytes);
    if (body === null) return json(413, { error: "Request Entity Too Large" });
    const mediaType = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (mediaType !== "application/json") return json(415, { error: "Unsupported Media Type" });

    let verified;
    try {
      verified = await verify(deps.secrets, req.headers, body, deps.now());
    } catch (e) {
      // The same answer as the sidecar's ingress (internal/webhook): why is for the logs only.
      if (e instanceof VerifyError) {
        console.warn(`webhook-inbox: signature refused: ${e.kind}`);
        return json(401, { error: "Unauthorized" });
      }
      throw e;
    }

    let payload: unknown;
    try {
      payload = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    } catch {
      return json(400, { error: "Bad Request", reason: "body is not valid JSON" });
    }
    if (payload === null || typeof payload !== "object" || containsNul(payload)) {
      return json(400, { error: "Bad Request", reason: "body must be a JSON object or array without NUL characters" });
    }

    const headers: Record<string, string> = {};
    for (const h of KEPT_HEADERS) {
      const v = req.headers.get(h);
      if (v) headers[h] = v;
    }
    const outcome = await deps.store({
      source: deps.source,
      connection_id: deps.connectionId,
      provider_event_id: verified.id,
      headers,
      payload,
    });
    return json(200, { status: outcome });
  };
}

/**
 * postgrestStore stores rows by calling public.webhook_inbox_insert() through PostgREST with the
 * service_role key (the inbox is in vendorhub's private schema; only that function reaches it).
 */
export function postgrestStore(supabaseUrl: string, serviceRoleKey: string, fetchFn: typeof fetch = fetch) {
  return async (row: InboxRow): Promise<StoreOutcome> => {
    const res = await fetchFn(`${supabaseUrl.replace(/\/$/, "")}/rest/v1/rpc/webhook_inbox_insert`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        apikey: serviceRoleKey,
        authorization: `Bearer ${serviceRoleKey}`,
      },
      body: JSON.stringify({
        source: row.source,
        connection_id: row.connection_id,
        provider_event_id: row.provider_event_id,
        headers: row.headers,
        payload: row.payload,
      }),
    });
    if (!res.ok) throw new Error(`webhook_inbox_insert: HTTP ${res.status}`);
    const outcome = await res.json();
    if (outcome !== "stored" && outcome !== "duplicate") throw new Error("webhook_inbox_insert: unexpected answer");
    return outcome;
  };
}
