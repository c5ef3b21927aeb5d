// Package webhook is vendorhub's webhook ingress: POST /webhooks/<source>/<connection>.
//
// A request is verified before anything is stored, then stored once in vendorhub.webhook_inbox
// and answered; processing happens later from the WAL (the inbox insert trigger emits
// webhook.received). In order, a request must pass:
//
//  1. the per-source-address rate limit (local token bucket)                        → 429
//  2. a known source and method POST                                               → 404 / 405
//     (Graph's validationToken handshake is answered here: 200 text/plain, the token)
//  3. the body size limit (Config.MaxBodyBytes)                                     → 413
//  4. the source's content type                                                     → 415
//  5. a known, enabled connection of the source's kind                              → 404 / 410
//  6. the source's signature (signature package), timestamp within tolerance, or an
//     unexpired Google channel / Graph subscription                                → 401
//  7. a decodable body (JSON that Postgres jsonb accepts, or Twilio's form)         → 400
//  8. the per-connection limit (local bucket, then a per-second counter shared by every
//     instance in vendorhub.webhook_rate_windows, with the per-address one)        → 429
//  9. the inbox insert, ON CONFLICT (source, provider_event_id) DO NOTHING          → 200
//     (a duplicate answers 200 too; Graph gets 202)
//
// Every rejection is written to the audit log (reason, source address, connection; never the
// secret or the body) through an audit.Buffer, so a flood costs one statement per flush.
// Verified requests are stored in batches: concurrent requests share one call of
// vendorhub.webhook_store(), which is what lets one instance take thousands per second.
//
// Connection secrets come from vendorhub.integration_credentials (integration.Credential's
// Secret field, opened with the keyring) and are cached for Config.SecretTTL. The hub's own
// Resend and Twilio accounts, which have no connection row, are configured as
// SystemConnections and addressed by name, e.g. /webhooks/twilio/default.
package webhook
