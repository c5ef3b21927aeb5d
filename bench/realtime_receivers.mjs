// Receivers of the realtime benchmarks (bench/realtime.go, bench/system.go): one real
// supabase-js client (own socket, `ws` transport) per entry of $CLIENTS, each subscribed to
// its private conversations ({"token", "conversation"} or {"token", "conversations": [...]}).
// Prints {"ready": n} once every channel is subscribed, then one line per received
// message.created: {"c": <client index>, "id": <message id>, "t": <receipt time, Unix ms with
// sub-ms fraction>}.
import { createClient } from '@supabase/supabase-js'
import WebSocket from 'ws'
import { performance } from 'node:perf_hooks'

const clients = JSON.parse(process.env.CLIENTS)
const now = () => performance.timeOrigin + performance.now()
let out = []
const flush = () => {
  if (out.length) process.stdout.write(out.join(''))
  out = []
}
setInterval(flush, 20)

const want = clients.reduce((n, c) => n + (c.conversations ?? [c.conversation]).length, 0)
let ready = 0
for (const [i, c] of clients.entries()) {
  const supabase = createClient(process.env.SUPABASE_URL, process.env.SUPABASE_ANON_KEY, {
    accessToken: async () => c.token,
    realtime: { transport: WebSocket },
  })
  await supabase.realtime.setAuth()
  for (const conversation of c.conversations ?? [c.conversation]) {
    supabase
      .channel(`conversation:${conversation}`, { config: { private: true } })
      .on('broadcast', { event: 'message.created' }, ({ payload }) => {
        out.push(JSON.stringify({ c: i, id: payload.data.message_id, t: now() }) + '\n')
      })
      .subscribe((status, err) => {
        if (status === 'SUBSCRIBED') {
          if (++ready === want) process.stdout.write(JSON.stringify({ ready }) + '\n')
        } else if (err) {
          process.stderr.write(`subscribe ${status}: ${err.message}\n`)
        }
      })
  }
}
process.stdin.on('end', () => { flush(); process.exit(0) })
process.stdin.resume()
