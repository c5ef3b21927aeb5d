// A tab loses the network (its connections to the hub are cut and new ones refused, by a TCP
// proxy it reaches the hub through) while the other participant sends three messages; when the
// network comes back, supabase-js reconnects, the page rejoins with broadcast.replay since the
// last event it saw, and the missed messages appear, once each, without a reload.
import net from 'node:net'
import { base, env, launch, watch, shot, run } from './lib.mjs'

const conversation = env('CONVERSATION')

// cuttableProxy forwards 127.0.0.1:<port> to the hub; cut() resets every open connection and
// every new one until restore().
function cuttableProxy(target) {
  const { hostname, port } = new URL(target)
  const open = new Set()
  let cut = false
  const server = net.createServer((client) => {
    if (cut) return client.resetAndDestroy()
    const upstream = net.connect(Number(port), hostname)
    const pair = { client, upstream }
    open.add(pair)
    const end = () => { open.delete(pair); client.destroy(); upstream.destroy() }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    cut() { cut = true; for (const p of open) { p.client.resetAndDestroy(); p.upstream.destroy() } open.clear() },
    restore() { cut = false },
    close() { server.close() },
  })))
}

run(async () => {
  const proxy = await cuttableProxy(base)
  const { context, close } = await launch()
  try {
    const errors = {}
    const sam = await context.newPage() // the florist, through the proxy
    errors.sam = watch(sam, 'sam')
    let resp = await sam.goto(`${proxy.url}/demo/vendor-connections?as=sam&conversation=${conversation}`)
    if (resp.status() !== 200) throw new Error(`sam: page answered ${resp.status()}`)
    const lena = await context.newPage() // the photographer, directly
    errors.lena = watch(lena, 'lena')
    resp = await lena.goto(`${base}/demo/vendor-connections?as=lena&conversation=${conversation}`)
    if (resp.status() !== 200) throw new Error(`lena: page answered ${resp.status()}`)
    const subscribed = (p) => p.locator('[data-testid="channel-status"][data-status="SUBSCRIBED"]').waitFor({ timeout: 30000 })
    await subscribed(sam)
    await subscribed(lena)
    await sam.evaluate(() => { window.__noReload = 'still here' })
    const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
    const send = async (text) => {
      await lena.locator('[data-testid="vendor-message-input"]').fill(text)
      await lena.locator('[data-testid="send-vendor-message"]').click()
      await lena.locator('[data-testid="message-item"]', { hasText: text }).waitFor({ timeout: 20000 })
    }
    // One message while connected: sam has seen something.
    await send(`before the cut ${tag}`)
    await sam.locator('[data-testid="message-item"]', { hasText: `before the cut ${tag}` }).waitFor({ timeout: 30000 })

    proxy.cut()
    await sam.locator('[data-testid="channel-status"]:not([data-status="SUBSCRIBED"])').waitFor({ timeout: 30000 })
    const offlineStatus = await sam.locator('[data-testid="channel-status"]').getAttribute('data-status')
    const missed = [1, 2, 3].map((i) => `missed ${i} ${tag}`)
    for (const text of missed) await send(text)
    const shownWhileCut = await sam.locator('[data-testid="message-item"]', { hasText: tag }).count()

    proxy.restore()
    await subscribed(sam)
    for (const text of missed) {
      await sam.locator('[data-testid="message-item"]', { hasText: text }).waitFor({ timeout: 30000 })
    }
    const shown = await sam.locator('[data-testid="message-item"]', { hasText: tag }).allInnerTexts()
    const replayed = await sam.locator('[data-testid="message-item"][data-replayed="true"]', { hasText: tag }).count()
    await shot(sam, 'chat-after-reconnect')
    return {
      offlineStatus, shownWhileCut, shown: shown.length, replayed,
      order: shown.map((s) => (s.match(/(before the cut|missed \d)/) || [''])[0]),
      noReload: await sam.evaluate(() => window.__noReload),
      errors,
    }
  } finally {
    await close()
    proxy.close()
  }
})
