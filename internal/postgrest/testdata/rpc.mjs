// supabase-js rpc() against the dev PostgREST endpoint, as the frontend calls it. Prints one
// JSON object with each call's {data, error, status} for the Go test to check.
import { createClient } from '@supabase/supabase-js'
import WebSocket from 'ws'

const url = process.env.URL
const anon = process.env.ANON_KEY
// Node 20 has no native WebSocket: supabase-js needs one even when only rpc() is used.
const realtime = { transport: WebSocket }
const as = (token) => createClient(url, anon, { accessToken: async () => token, realtime })
const lena = as(process.env.LENA_TOKEN)
const forged = as(process.env.FORGED_TOKEN)
const nobody = createClient(url, anon, { auth: { persistSession: false }, realtime })

const call = async (client, fn, args, opts) => {
  const { data, error, status } = await client.rpc(fn, args, opts)
  return { data, error, status }
}

const out = {
  send: await call(lena, 'send_message', { conversation_id: process.env.CONV_LENA, body: process.env.BODY }),
  sendElsewhere: await call(lena, 'send_message', { conversation_id: process.env.CONV_OTHER, body: 'not mine' }),
  read: await call(lena, 'mark_conversation_read', { conversation_id: process.env.CONV_LENA }),
  prefs: await call(lena, 'set_notification_preferences', { prefs: [{ category: 'booking', channel: 'sms', enabled: true }] }),
  badPrefs: await call(lena, 'set_notification_preferences', { prefs: [{ category: 'gossip', channel: 'sms', enabled: true }] }),
  availability: await call(lena, 'vendor_availability', { wedding: process.env.WEDDING, from_at: '2027-06-01T00:00:00Z', to_at: '2027-07-01T00:00:00Z' }, { get: true }),
  anonSend: await call(nobody, 'send_message', { conversation_id: process.env.CONV_LENA, body: 'anonymous' }),
  unexposed: await call(lena, 'emit', { type: 'heartbeat', wedding_id: null, subject: {} }),
  privateHelper: await call(lena, 'is_participant', { conv: process.env.CONV_LENA }),
  unknownArgs: await call(lena, 'send_message', { conversation: process.env.CONV_LENA }),
  forged: await call(forged, 'send_message', { conversation_id: process.env.CONV_LENA, body: 'forged' }),
}
process.stdout.write(JSON.stringify(out) + '\n')
