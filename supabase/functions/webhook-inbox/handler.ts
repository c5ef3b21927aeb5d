// The request handler of the webhook-inbox edge function, with its dependencies injected so
// that it can be tested without a network (handler_test.ts), and its store: supabase-js rpc().

import { createClient } from "@supabase/supabase-js";
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
  store: Store;
}

/** Stores one row; fails with a StoreError. */
export type Store = (row: InboxRow) => Promise<StoreOutcome>;

/**
 * StoreError is a failed store. refused: the database refused the data (SQLSTATE class 22, as
 * the sidecar's ingress classifies it), so a retry cannot succeed; otherwise the store is
 * unavailable or broken and the sender should retry.
 */
export class StoreError extends Error {
  constructor(readonly refused: boolean, message: string) {
    super(message);
  }
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
    let outcome: StoreOutcome;
    try {
      outcome = await deps.store({
        source: deps.source,
        connection_id: deps.connectionId,
        provider_event_id: verified.id,
        headers,
        payload,
      });
    } catch (e) {
      if (!(e instanceof StoreError)) throw e;
      console.error(`webhook-inbox: store failed: ${e.message}`);
      if (e.refused) return json(400, { error: "Bad Request", reason: "payload refused by the database" });
      return json(500, { error: "Internal Server Error" });
    }
    return json(200, { status: outcome });
  };
}


/** The part of supabase-js's rpc() answer that the store reads ({ data, error, status }). */
export interface RpcAnswer {
  data: unknown;
  error: { code?: string; message: string } | null;
  status: number;
}

/**
 * rpcOutcome maps webhook_inbox_insert's answer to an outcome: its data, 'stored' or
 * 'duplicate' (the function absorbs duplicates with ON CONFLICT DO NOTHING); a PostgREST error
 * of SQLSTATE class 22 (data exception) is a refused payload; any other error, a network
 * failure (status 0) or an unexpected answer is a StoreError the sender should retry.
 */
export function rpcOutcome(res: RpcAnswer): StoreOutcome {
  const { data, error, status } = res;
  if (error) {
    const code = error.code ?? "";
    // The message only (a gateway's error page can be long; details may quote the payload).
    const message = String(error.message).slice(0, 300);
    throw new StoreError(code.startsWith("22"), `webhook_inbox_insert: HTTP ${status} ${code || "-"}: ${message}`);
  }
  if (data !== "stored" && data !== "duplicate") {
    throw new StoreError(false, `webhook_inbox_insert: HTTP ${status}: unexpected answer`);
  }
  return data;
}

/**
 * supabaseStore stores rows with supabase-js: public.webhook_inbox_insert() called through
 * rpc() with the service_role key (the inbox is in vendorhub's private schema; only that
 * function reaches it). fetchFn replaces the global fetch (tests).
 */
export function supabaseStore(supabaseUrl: string, serviceRoleKey: string, fetchFn?: typeof fetch): Store {
  const client = createClient(supabaseUrl, serviceRoleKey, {
    // A server-side client: no session to keep or refresh.
    auth: { persistSession: false, autoRefreshToken: false },
    ...(fetchFn ? { global: { fetch: fetchFn } } : {}),
  });
  return async (row: InboxRow): Promise<StoreOutcome> =>
    rpcOutcome(
      await client.rpc("webhook_inbox_insert", {
        source: row.source,
        connection_id: row.connection_id,
        provider_event_id: row.provider_event_id,
        headers: row.headers,
        payload: row.payload,
      }),
    );
}
