// Two tabs signed in as the seeded photographer and florist of one wedding, on a conversation
// they both take part in, and a third tab of a vendor outside that wedding: presence and a
// typing indicator travel on the conversation's chatter topic; a message typed and sent in the
// first tab appears in the second without a reload, and never in the third.
import { base, env, launch, watch, shot, run } from './lib.mjs'

const conversation = env('CONVERSATION')

run(async () => {
  const { context, close } = await launch()
  try {
    const tabs = {}
    const errors = {}
    for (const who of ['lena', 'sam', 'oscar']) {
      const page = await context.newPage()
      errors[who] = watch(page, who)
      const resp = await page.goto(`${base}/demo/vendor-connections?as=${who}&conversation=${conversation}`)
      if (resp.status() !== 200) throw new Error(`${who}: page answered ${resp.status()}`)
      tabs[who] = page
    }
    const status = (p) => p.locator('[data-testid="channel-status"]')
    await tabs.lena.locator('[data-testid="channel-status"][data-status="SUBSCRIBED"]').waitFor({ timeout: 30000 })
    await tabs.sam.locator('[data-testid="channel-status"][data-status="SUBSCRIBED"]').waitFor({ timeout: 30000 })
    await tabs.oscar.locator('[data-testid="channel-status"][data-status="CHANNEL_ERROR"]').waitFor({ timeout: 30000 })
    // Presence: each participant sees the other online.
    await tabs.lena.locator('[data-testid="presence-user"]', { hasText: 'Sam Okafor' }).waitFor({ timeout: 20000 })
    await tabs.sam.locator('[data-testid="presence-user"]', { hasText: 'Lena Ortiz' }).waitFor({ timeout: 20000 })

    await tabs.lena.locator('[data-testid="chatter-status"][data-status="SUBSCRIBED"]').waitFor({ timeout: 30000 })
    await tabs.oscar.locator('[data-testid="chatter-status"][data-status="CHANNEL_ERROR"]').waitFor({ timeout: 30000 })
    // Typing travels on the chatter topic: sam sees lena typing before she sends.
    await tabs.lena.locator('[data-testid="vendor-message-input"]').fill('Arriving')
    await tabs.sam.locator('[data-testid="typing"]', { hasText: 'Lena Ortiz typing' }).waitFor({ timeout: 20000 })
    const outsiderTyping = await tabs.oscar.locator('[data-testid="typing"]').innerText()

    // A marker in the florist's tab survives only if the page is not reloaded.
    await tabs.sam.evaluate(() => { window.__noReload = 'still here' })
    const text = `Arriving at Thornbury at 08:40 (browser test ${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)})`
    await tabs.lena.locator('[data-testid="vendor-message-input"]').fill(text)
    const sentAt = Date.now()
    await tabs.lena.locator('[data-testid="send-vendor-message"]').click()
    await tabs.lena.locator('[data-testid="message-item"]', { hasText: text }).waitFor({ timeout: 20000 })
    await tabs.sam.locator('[data-testid="message-item"]', { hasText: text }).waitFor({ timeout: 30000 })
    const receivedMs = Date.now() - sentAt
    const noReload = await tabs.sam.evaluate(() => window.__noReload)
    const outsiderCount = await tabs.oscar.locator('[data-testid="message-item"]', { hasText: text }).count()
    const outsiderBody = await tabs.oscar.locator('[data-testid="message-list"]').innerText()
    await shot(tabs.lena, 'chat-photographer')
    await shot(tabs.sam, 'chat-florist')
    await shot(tabs.oscar, 'chat-outsider')
    return {
      text, receivedMs, noReload, outsiderCount, outsiderSawText: outsiderBody.includes(text),
      outsiderStatus: await status(tabs.oscar).getAttribute('data-status'),
      outsiderTyping,
      errors,
    }
  } finally {
    await close()
  }
})
