// Package outbound delivers vendorhub events to the webhook endpoints vendors register, as
// Standard Webhooks-signed POSTs from River jobs.
//
//   - Sink (a handoff.Sink) runs inside the durable hand-off transaction: for every event routed
//     to "webhook.outbound" it writes one public.webhook_deliveries row per subscribed, enabled
//     endpoint of the vendors concerned (unique on endpoint and event key, so a replayed WAL
//     batch adds nothing) and one River job per new row. No HTTP in the WAL path.
//   - Worker sends one attempt: webhook-id (stable, derived from the event key), a fresh
//     webhook-timestamp and webhook-signature (current and, during a rotation, previous secret),
//     the exact body stored with the delivery. Every attempt is a public.webhook_delivery_attempts
//     row. 2xx succeeds; 410 Gone disables the endpoint; any other answer or error is retried
//     on Svix's schedule (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; Config.Schedule)
//     through the worker's NextRetry, with a clock tests control; an endpoint failing for
//     Config.DisableAfter (5 days) is disabled.
//   - Sink.Enqueue creates deliveries whose body a connector shaped, for the endpoint of an
//     integration connection (webhook_endpoints.connection_id: e.g. the Zapier catch hook of a
//     Dubsado connection); such endpoints get nothing from the generic HandOff.
//   - With Config.Breakers, each attempt runs through the circuit breaker of the endpoint's
//     connection (or of the endpoint): while it is open, delivery jobs snooze without an attempt.
//   - Replay re-queues an endpoint's deliveries of a time range (public.replay_webhook_deliveries).
//   - Signing secrets are sealed in vendorhub.webhook_endpoint_secrets with the keyring;
//     RollSecret issues a new one and keeps the previous one signing for Config.RotationOverlap.
//
// Delivery is at least once: a worker killed mid-request leaves its job running until River
// rescues it, and the retry carries the same webhook-id so receivers deduplicate.
package outbound
