// Package signature verifies (and, for Standard Webhooks, produces) the signatures of the
// webhooks vendorhub receives and sends. It holds no state and does no I/O, so the ingress
// handler, the notification status callbacks, the outbound worker and the test receiver all use
// the same code.
//
//   - Standard Webhooks and Svix (Resend): HMAC-SHA256 over "id.timestamp.body", base64, "v1,"
//     prefix, "whsec_" secrets, several space-separated signatures during rotation, a timestamp
//     tolerance both ways (ToleranceDefault). Only the header prefix differs ("webhook-" / "svix-").
//   - Twilio: X-Twilio-Signature, HMAC-SHA1 over the public URL plus the sorted POST parameters
//     (twilio-go's RequestValidator does the computation).
//   - Shared secrets (Zapier bridges, Google channel tokens, Graph clientState): constant-time
//     comparison that does not leak the secret's length.
//
// Every failure is one of the sentinel errors below (errors.Is), wrapped in *Error with a short
// reason fit for the audit log (never the secret, never the body).
package signature
