// The 375×667 viewport is usable: no page scrolls sideways, the chat's input and send button
// are on screen and sending works, and the settings and admin pages fit.
import { base, env, launch, watch, shot, run } from './lib.mjs'

const conversation = env('CONVERSATION')

async function fits(page) {
  return page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }))
}

async function onScreen(page, selector) {
  const box = await page.locator(selector).boundingBox()
  const vw = page.viewportSize()
  return !!box && box.x >= 0 && box.y >= 0 && box.x + box.width <= vw.width + 0.5 && box.y + box.height <= vw.height + 0.5 &&
    box.width >= 24 && box.height >= 24
}

run(async () => {
  const { context, close } = await launch({ viewport: { width: 375, height: 667 }, isMobile: true })
  try {
    const page = await context.newPage()
    const errors = watch(page, 'mobile')
    const out = { pages: {}, errors }
    await page.goto(`${base}/demo/vendor-connections?as=sam&conversation=${conversation}`)
    await page.locator('[data-testid="channel-status"][data-status="SUBSCRIBED"]').waitFor({ timeout: 30000 })
    await page.locator('[data-testid="vendor-message-input"]').scrollIntoViewIfNeeded()
    out.inputOnScreen = await onScreen(page, '[data-testid="vendor-message-input"]')
    out.sendOnScreen = await onScreen(page, '[data-testid="send-vendor-message"]')
    const text = `On my way (mobile ${Date.now().toString(36)})`
    await page.locator('[data-testid="vendor-message-input"]').tap()
    await page.locator('[data-testid="vendor-message-input"]').fill(text)
    await page.locator('[data-testid="send-vendor-message"]').tap()
    await page.locator('[data-testid="message-item"]', { hasText: text }).waitFor({ timeout: 20000 })
    out.text = text
    out.pages.chat = await fits(page)
    await shot(page, 'mobile-chat')

    for (const [name, path] of [['dashboard', '/'], ['settings', '/demo/settings/notifications?as=sam'],
      ['integrations', '/admin/integrations'], ['health', '/admin/integration-health']]) {
      await page.goto(base + path)
      out.pages[name] = await fits(page)
      await shot(page, `mobile-${name}`)
    }
    await page.goto(`${base}/demo/settings/notifications?as=sam`)
    await page.locator('[data-testid="vendor-notifications-toggle"]').scrollIntoViewIfNeeded()
    out.toggleOnScreen = await onScreen(page, '[data-testid="vendor-notifications-toggle"]')
    return out
  } finally {
    await close()
  }
})
