// Tests of the webhook-inbox edge function: `deno test` in this folder, no network (the store
// runs the real supabase-js against a fake fetch). Run by the Go test internal/webhook
// TestEdgeFunction in `make test`, offline: its test config resolves supabase-js from the
// repository's node_modules (internal/denotest); a plain `deno test` fetches it from npm.

import { createHandler, type InboxRow, type Store, StoreError, supabaseStore } from "./handler.ts";
import { sign, verify, VerifyError } from "./verify.ts";

function assertEquals<T>(actual: T, expected: T, msg = "") {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${msg} expected ${e}, got ${a}`);
}

// Published Standard Webhooks test vector (libraries/go/webhook_test.go TestWebhookSign).
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const VECTOR = {
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  ts: 1614265330,
  body: '{"test": 2432232314}',
  sig: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};
const enc = new TextEncoder();
const NOW = 1_700_000_000;

Deno.test("signs the published test vector", async () => {
  assertEquals(await sign(SECRET, VECTOR.id, VECTOR.ts, enc.encode(VECTOR.body)), VECTOR.sig);
  const h = new Headers({ "webhook-id": VECTOR.id, "webhook-timestamp": String(VECTOR.ts), "webhook-signature": VECTOR.sig });
  assertEquals(await verify([SECRET], h, enc.encode(VECTOR.body), VECTOR.ts + 1), { id: VECTOR.id, timestamp: VECTOR.ts });
});

Deno.test("rejects the reference library's failure cases", async () => {
  const cases: [string, Headers, number, string][] = [];
  const base = () => new Headers({ "webhook-id": VECTOR.id, "webhook-timestamp": String(VECTOR.ts), "webhook-signature": VECTOR.sig });
  const noId = base();
  noId.delete("webhook-id");
  cases.push(["missing id", noId, VECTOR.ts, "missing_header"]);
  const bad = base();
  bad.set("webhook-signature", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=");
  cases.push(["bad signature", bad, VECTOR.ts, "signature_mismatch"]);
  cases.push(["too old", base(), VECTOR.ts + 301, "timestamp_too_old"]);
  cases.push(["too new", base(), VECTOR.ts - 301, "timestamp_too_new"]);
  for (const [name, h, now, kind] of cases) {
    try {
      await verify([SECRET], h, enc.encode(VECTOR.body), now);
      throw new Error(`${name}: accepted`);
    } catch (e) {
      if (!(e instanceof VerifyError)) throw e;
      assertEquals(e.kind, kind, name);
    }
  }
  // Several signatures during rotation: any valid one is enough.
  const multi = base();
  multi.set("webhook-signature", `v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= ${VECTOR.sig}`);
  await verify([SECRET], multi, enc.encode(VECTOR.body), VECTOR.ts);
});

function harness(maxBodyBytes = 1024) {
  const stored: InboxRow[] = [];
  const seen = new Set<string>();
  const handler = createHandler({
    secrets: ["whsec_b2xkLXNlY3JldC0wMTIzNDU2Nzg5", SECRET],
    source: "standard",
    connectionId: null,
    maxBodyBytes,
    now: () => NOW,
    store: (row) => {
      if (seen.has(row.provider_event_id)) return Promise.resolve("duplicate");
      seen.add(row.provider_event_id);
      stored.push(row);
      return Promise.resolve("stored");
    },
  });
  return { handler, stored };
}

async function signedRequest(body: string, opts: { id?: string; ts?: number; type?: string; secret?: string } = {}) {
  const id = opts.id ?? "msg_1";
  const ts = opts.ts ?? NOW;
  const bytes = enc.encode(body);
  return new Request("http://edge.local/webhook-inbox", {
    method: "POST",
    body: bytes,
    headers: {
      "content-type": opts.type ?? "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(ts),
      "webhook-signature": await sign(opts.secret ?? SECRET, id, ts, bytes),
    },
  });
}

Deno.test("valid → 200 and one row; duplicate → 200 and nothing new", async () => {
  const { handler, stored } = harness();
  let res = await handler(await signedRequest('{"type":"lead.created","data":{"id":1}}'));
  assertEquals(res.status, 200);
  assertEquals(await res.json(), { status: "stored" });
  res = await handler(await signedRequest('{"type":"lead.created","data":{"id":1}}'));
  assertEquals(res.status, 200);
  assertEquals(await res.json(), { status: "duplicate" });
  assertEquals(stored.length, 1);
  assertEquals(stored[0].provider_event_id, "msg_1");
  assertEquals(stored[0].headers["webhook-signature"], undefined, "signatures are not stored");
});

Deno.test("rejections store nothing", async () => {
  const { handler, stored } = harness(64);
  const forged = await signedRequest('{"a":1}', { secret: "whsec_Zm9yZ2VkLXNlY3JldC1mb3JnZWQ=" });
  const cases: [string, Request, number][] = [
    ["bad signature", forged, 401],
    ["stale", await signedRequest('{"a":1}', { ts: NOW - 301 }), 401],
    ["future", await signedRequest('{"a":1}', { ts: NOW + 301 }), 401],
    ["oversized", await signedRequest(JSON.stringify({ a: "x".repeat(100) })), 413],
    ["content type", await signedRequest('{"a":1}', { type: "text/plain" }), 415],
    ["malformed JSON after a valid signature", await signedRequest('{"a":'), 400],
    ["NUL after a valid signature", await signedRequest('{"a":"\\u0000"}'), 400],
    ["GET", new Request("http://edge.local/webhook-inbox"), 405],
  ];
  for (const [name, req, status] of cases) {
    const res = await handler(req);
    await res.body?.cancel();
    assertEquals(res.status, status, name);
  }
  assertEquals(stored.length, 0);
});

type Call = { url: string; method: string; headers: Headers; body: Record<string, unknown> };

/** A fetch answering every call with answer(), recording the calls. */
function fakeFetch(answer: () => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push({
      url: String(input),
      method: init?.method ?? "GET",
      headers: new Headers(init?.headers),
      body: JSON.parse(String(init?.body)),
    });
    return await answer();
  }) as typeof fetch;
  return { fn, calls };
}

const pgrst = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8" } });

const ROW: InboxRow = {
  source: "standard",
  connection_id: "60000000-0000-4000-8000-000000000002",
  provider_event_id: "msg_9",
  headers: { "webhook-id": "msg_9" },
  payload: { a: 1 },
};

Deno.test("supabaseStore calls webhook_inbox_insert through supabase-js rpc() with the service role key", async () => {
  let answer = "stored";
  const { fn, calls } = fakeFetch(() => pgrst(200, answer));
  const store = supabaseStore("http://127.0.0.1:54321/", "service-key", fn);
  assertEquals(await store(ROW), "stored");
  answer = "duplicate";
  assertEquals(await store(ROW), "duplicate");
  assertEquals(calls.length, 2);
  assertEquals(calls[0].url, "http://127.0.0.1:54321/rest/v1/rpc/webhook_inbox_insert");
  assertEquals(calls[0].method, "POST");
  assertEquals(calls[0].headers.get("apikey"), "service-key");
  assertEquals(calls[0].headers.get("authorization"), "Bearer service-key");
  assertEquals(calls[0].headers.get("content-type"), "application/json");
  assertEquals(calls[0].body, {
    source: "standard",
    connection_id: ROW.connection_id,
    provider_event_id: "msg_9",
    headers: { "webhook-id": "msg_9" },
    payload: { a: 1 },
  });
});

Deno.test("supabase-js errors: a refused payload is 400, anything else 500, and both are StoreErrors", async () => {
  const err = (code: string, message: string) => ({ code, details: null, hint: null, message });
  const cases: [string, () => Response | Promise<Response>, number, boolean][] = [
    ["class 22: invalid JSON text", () => pgrst(400, err("22P02", "invalid input syntax for type json")), 400, true],
    ["class 22: unsupported escape", () => pgrst(400, err("22P05", "unsupported Unicode escape sequence")), 400, true],
    ["check violation (configuration)", () => pgrst(400, err("23514", "violates check constraint")), 500, false],
    ["bad key", () => pgrst(401, err("PGRST301", "JWSError JWSInvalidSignature")), 500, false],
    ["not service_role", () => pgrst(403, err("42501", "permission denied for function webhook_inbox_insert")), 500, false],
    ["function missing", () => pgrst(404, err("PGRST202", "Could not find the function")), 500, false],
    ["database down", () => pgrst(503, err("PGRST001", "Database client error")), 500, false],
    ["gateway error page", () => new Response("<html>bad gateway</html>", { status: 502 }), 500, false],
    ["network failure", () => Promise.reject(new TypeError("error sending request")), 500, false],
    ["unexpected answer", () => pgrst(200, "inserted"), 500, false],
    ["empty answer", () => new Response(null, { status: 204 }), 500, false],
  ];
  for (const [name, answer, status, refused] of cases) {
    const { fn, calls } = fakeFetch(answer);
    const store = supabaseStore("http://127.0.0.1:54321", "service-key", fn);
    try {
      await store(ROW);
      throw new Error(`${name}: stored`);
    } catch (e) {
      if (!(e instanceof StoreError)) throw e;
      assertEquals(e.refused, refused, name);
    }
    const handler = createHandler({ secrets: [SECRET], source: "standard", connectionId: null, maxBodyBytes: 1024, now: () => NOW, store });
    const res = await handler(await signedRequest('{"a":1}'));
    assertEquals(res.status, status, name);
    assertEquals((await res.json()).error, status === 400 ? "Bad Request" : "Internal Server Error", name);
    assertEquals(calls.length, 2, `${name}: one call per store`);
  }
});

Deno.test("a store failing with anything but a StoreError is not swallowed", async () => {
  const store: Store = () => Promise.reject(new RangeError("bug"));
  const handler = createHandler({ secrets: [SECRET], source: "standard", connectionId: null, maxBodyBytes: 1024, now: () => NOW, store });
  try {
    await handler(await signedRequest('{"a":1}'));
    throw new Error("answered");
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
  }
});
