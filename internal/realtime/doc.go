// Package realtime publishes routed events to Supabase Realtime broadcast channels.
//
// The Publisher is a best-effort Broadcaster: Publish never blocks and never fails. It turns
// each routed event into one Message per topic (event name = event type, payload = the event
// envelope plus its key), puts them on a bounded queue (dropping and counting when full), and a
// single sender goroutine posts them in batches through a Transport, in order:
//
//   - RESTTransport posts to Supabase's REST batch endpoint
//     POST <SUPABASE_URL>/realtime/v1/api/broadcast with the service-role key, the production path;
//   - the embedded gateway (package gateway) is itself a Transport, so in `vendorhub dev` the
//     sidecar's own broadcasts reach subscribers in-process.
//
// Under load, messages queue up while a request is in flight and leave together in the next
// batch (up to Config.BatchSize), and repeats of the same event on the same topic (replays)
// are coalesced. A payload over Config.MaxPayloadBytes is replaced, before sending, by a small
// "changed, refetch" message (same event name, payload without data and with "refetch": true)
// and counted. 429 answers are retried after Retry-After (or the rolling-rate window), other
// failures with bounded exponential back-off; a batch that still fails is dropped and counted.
//
// Nothing here is on the acknowledgement path: the replication position is acknowledged when
// the durable hand-off commits, whatever Realtime does.
package realtime
