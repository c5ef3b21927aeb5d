// Tests of the webhook-inbox edge function: `deno test` in this folder, no network and no
// remote imports (run by the Go test internal/webhook TestEdgeFunction in `make test`).

import { createHandler, type InboxRow, postgrestStore } from "./handler.ts";
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

Deno.test("postgrestStore calls webhook_inbox_insert with the service role key", async () => {
  const calls: { url: string; init: RequestInit }[] = [];
  const fakeFetch = ((url: string, init: RequestInit) => {
    calls.push({ url, init });
    return Promise.resolve(new Response(JSON.stringify("stored"), { status: 200 }));
  }) as unknown as typeof fetch;
  const store = postgrestStore("http://127.0.0.1:54321/", "service-key", fakeFetch);
  const outcome = await store({ source: "standard", connection_id: null, provider_event_id: "msg_9", headers: {}, payload: { a: 1 } });
  assertEquals(outcome, "stored");
  assertEquals(calls[0].url, "http://127.0.0.1:54321/rest/v1/rpc/webhook_inbox_insert");
  assertEquals((calls[0].init.headers as Record<string, string>).authorization, "Bearer service-key");
  assertEquals(JSON.parse(String(calls[0].init.body)).provider_event_id, "msg_9");
});
