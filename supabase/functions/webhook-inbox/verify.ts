// Standard Webhooks verification (https://www.standardwebhooks.com), dependency-free: Web Crypto
// HMAC-SHA256 over "id.timestamp.body", "v1," base64 signatures (several during rotation),
// "whsec_" base64 secrets, a timestamp tolerance both ways. Same scheme as vendorhub's Go
// verifier (internal/webhook/signature).

export const TOLERANCE_SECONDS = 5 * 60;

export type VerifyFailure =
  | "missing_header"
  | "malformed"
  | "invalid_timestamp"
  | "timestamp_too_old"
  | "timestamp_too_new"
  | "signature_mismatch"
  | "invalid_secret";

export class VerifyError extends Error {
  constructor(readonly kind: VerifyFailure, detail: string) {
    super(`${kind.replaceAll("_", " ")}: ${detail}`);
  }
}

export interface Verified {
  id: string;
  timestamp: number;
}

const encoder = new TextEncoder();

export function decodeSecret(secret: string): Uint8Array<ArrayBuffer> {
  const b64 = secret.trim().replace(/^whsec_/, "");
  if (b64 === "") throw new VerifyError("invalid_secret", "empty secret");
  try {
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  } catch {
    throw new VerifyError("invalid_secret", "secret is not base64");
  }
}

function toBase64(bytes: ArrayBuffer): string {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s);
}

async function hmac(secret: Uint8Array<ArrayBuffer>, id: string, ts: number, body: Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const prefix = encoder.encode(`${id}.${ts}.`);
  const data = new Uint8Array(prefix.length + body.length);
  data.set(prefix);
  data.set(body, prefix.length);
  return toBase64(await crypto.subtle.sign("HMAC", key, data));
}

/** sign returns the "v1,<base64>" signature of body sent as id at ts (unix seconds). */
export async function sign(secret: string, id: string, ts: number, body: Uint8Array): Promise<string> {
  return "v1," + (await hmac(decodeSecret(secret), id, ts, body));
}

/** Constant-time comparison of two strings (length is not secret: both are base64 HMACs). */
function timingSafeEqual(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * verify checks webhook-id, webhook-timestamp and webhook-signature against any of secrets.
 * nowSeconds is the current unix time.
 */
export async function verify(
  secrets: string[],
  headers: Headers,
  body: Uint8Array,
  nowSeconds: number,
  toleranceSeconds = TOLERANCE_SECONDS,
): Promise<Verified> {
  const id = headers.get("webhook-id") ?? "";
  const tsHeader = headers.get("webhook-timestamp") ?? "";
  const sigHeader = headers.get("webhook-signature") ?? "";
  if (!id) throw new VerifyError("missing_header", "webhook-id");
  if (!tsHeader) throw new VerifyError("missing_header", "webhook-timestamp");
  if (!sigHeader) throw new VerifyError("missing_header", "webhook-signature");
  if (id.length > 256 || /[.\s]/.test(id)) throw new VerifyError("malformed", "webhook-id");
  if (!/^[0-9]{1,12}$/.test(tsHeader)) throw new VerifyError("invalid_timestamp", "webhook-timestamp");
  const ts = Number(tsHeader);
  if (nowSeconds - ts > toleranceSeconds) throw new VerifyError("timestamp_too_old", "webhook-timestamp");
  if (ts - nowSeconds > toleranceSeconds) throw new VerifyError("timestamp_too_new", "webhook-timestamp");
  if (sigHeader.length > 4096) throw new VerifyError("malformed", "webhook-signature too long");
  const presented = sigHeader.split(/\s+/).filter((s) => s.startsWith("v1,"));
  if (secrets.length === 0) throw new VerifyError("invalid_secret", "no secret configured");
  for (const secret of secrets) {
    const want = "v1," + (await hmac(decodeSecret(secret), id, ts, body));
    if (presented.some((p) => timingSafeEqual(p, want))) return { id, timestamp: ts };
  }
  throw new VerifyError("signature_mismatch", `${presented.length} signature(s) checked`);
}
