// Receivers of the realtime end-to-end benchmark (bench/realtime.go): one real supabase-js
// client (own socket, `ws` transport) per entry of $CLIENTS, each subscribed to its private
// conversation. Prints {"ready": n} once all are subscribed, then one line per received
// message.created: {"id": <message id>, "t": <receipt time, Unix ms with sub-ms fraction>}.
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

let ready = 0
for (const c of clients) {
  const supabase = createClient(process.env.SUPABASE_URL, process.env.SUPABASE_ANON_KEY, {
    accessToken: async () => c.token,
    realtime: { transport: WebSocket },
  })
  await supabase.realtime.setAuth()
  supabase
    .channel(`conversation:${c.conversation}`, { config: { private: true } })
    .on('broadcast', { event: 'message.created' }, ({ payload }) => {
      out.push(JSON.stringify({ id: payload.data.message_id, t: now() }) + '\n')
    })
    .subscribe((status, err) => {
      if (status === 'SUBSCRIBED') {
        if (++ready === clients.length) process.stdout.write(JSON.stringify({ ready }) + '\n')
      } else if (err) {
        process.stderr.write(`subscribe ${status}: ${err.message}\n`)
      }
    })
}
process.stdin.on('end', () => { flush(); process.exit(0) })
process.stdin.resume()
