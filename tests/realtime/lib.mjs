// Shared helpers of the realtime end-to-end scenarios. Each scenario is driven by a Go test
// (tests/realtime_test.go) that started vendorhub: the scenario prints one JSON line per
// event on stdout ({"event": …}) and reads one JSON command per line on stdin when it needs
// the Go side to act (insert a message through SQL, restart the sidecar).
//
// Clients are the real @supabase/supabase-js from node_modules. On Node 20 it needs a
// WebSocket class: we pass `ws`, wrapped to count text and binary frames per client so a
// scenario can prove which framing (vsn 2.0.0 binary kinds 3/4, or text) was used.
import { createClient } from '@supabase/supabase-js'
import WebSocket from 'ws'
import readline from 'node:readline'

export function env(name) {
  const v = process.env[name]
  if (!v) throw new Error(`missing environment variable ${name}`)
  return v
}

export function emit(event, data = {}) {
  process.stdout.write(JSON.stringify({ event, ...data }) + '\n')
}

const lines = []
const waiters = []
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return
  const msg = JSON.parse(line)
  if (waiters.length) waiters.shift()(msg)
  else lines.push(msg)
})

// command waits for the next command from the Go side.
export function command() {
  return lines.length ? Promise.resolve(lines.shift()) : new Promise((resolve) => waiters.push(resolve))
}

// ask emits event and waits for the Go side's answer.
export async function ask(event, data = {}) {
  emit(event, data)
  return command()
}

// waitFor polls cond until it holds or the deadline passes.
export async function waitFor(cond, what, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

export function check(cond, message) {
  if (!cond) throw new Error(`check failed: ${message}`)
}

// spyTransport returns a ws subclass that counts the frames of one client.
function spyTransport(frames) {
  return class SpyWebSocket extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols)
      this.on('message', (_data, isBinary) => (isBinary ? frames.binaryReceived++ : frames.textReceived++))
    }
    send(data, ...rest) {
      if (typeof data === 'string') frames.textSent++
      else frames.binarySent++
      return super.send(data, ...rest)
    }
  }
}

const clients = []

// client makes a supabase-js client for a user token. The token comes from the accessToken
// callback, as with third-party auth: setToken + supabase.realtime.setAuth() refreshes it.
export function client(name, token, { vsn } = {}) {
  const frames = { textSent: 0, binarySent: 0, textReceived: 0, binaryReceived: 0 }
  let current = token
  const realtime = { transport: spyTransport(frames), ...(vsn ? { vsn } : {}) }
  const supabase = createClient(env('SUPABASE_URL'), env('SUPABASE_ANON_KEY'), {
    accessToken: async () => current,
    realtime,
  })
  const c = { name, supabase, frames, setToken: (t) => { current = t } }
  clients.push(c)
  return c
}

// join subscribes c to topic with config and records what happens: broadcasts by event,
// statuses (SUBSCRIBED, CHANNEL_ERROR, CLOSED, …) with their errors and first times (at), system
// messages. Like Supabase's docs for private channels say, it first awaits
// realtime.setAuth(), so the join carries the user's token rather than the anon key.
export async function join(c, topic, config = {}, { events = ['*'], presence = false } = {}) {
  await c.supabase.realtime.setAuth()
  const ch = c.supabase.channel(topic, { config })
  const rec = { channel: ch, broadcasts: [], statuses: [], at: {}, errors: [], system: [], presence: { joins: [], leaves: [] } }
  for (const event of events) {
    ch.on('broadcast', { event }, (msg) => rec.broadcasts.push(msg))
  }
  ch.on('system', {}, (msg) => rec.system.push(msg))
  if (presence) {
    ch.on('presence', { event: 'join' }, ({ key, newPresences }) => rec.presence.joins.push({ key, newPresences }))
    ch.on('presence', { event: 'leave' }, ({ key, leftPresences }) => rec.presence.leaves.push({ key, leftPresences }))
  }
  ch.subscribe((status, err) => {
    rec.statuses.push(status)
    rec.at[status] ??= Date.now() // when the status was first seen
    if (err) rec.errors.push(err.message)
  })
  rec.count = (status) => rec.statuses.filter((s) => s === status).length
  return rec
}

export async function subscribed(rec, what) {
  await waitFor(() => rec.count('SUBSCRIBED') > 0 || rec.errors.length > 0, `${what} to subscribe`)
  check(rec.count('SUBSCRIBED') > 0, `${what} subscribed, got ${rec.statuses} ${rec.errors}`)
}

// run runs a scenario, reports done or error, and exits.
export async function run(scenario) {
  try {
    const result = (await scenario()) ?? {}
    emit('done', result)
    for (const c of clients) {
      await c.supabase.removeAllChannels()
      c.supabase.realtime.disconnect()
    }
    process.exit(0)
  } catch (err) {
    emit('error', { message: String(err?.stack ?? err) })
    process.exit(1)
  }
}
