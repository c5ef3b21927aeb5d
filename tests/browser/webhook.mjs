// /admin/integrations shows the webhook URLs, and "send test webhook" posts a signed event
// through the real ingress and reports success (the Go side finds the inbox row).
import { base, launch, watch, shot, run } from './lib.mjs'

run(async () => {
  const { context, close } = await launch()
  try {
    const page = await context.newPage()
    const errors = watch(page, 'integrations')
    await page.goto(base + '/admin/integrations')
    const honeybookURL = (await page.locator('[data-testid="honeybook-webhook-url"]').textContent()).trim()
    const dubsadoURL = (await page.locator('[data-testid="dubsado-webhook-url"]').textContent()).trim()
    const card = page.locator('[data-testid="connection-row"]', { has: page.locator('[data-testid="honeybook-webhook-url"]') })
    await card.locator('[data-testid="send-test-webhook"]').click()
    const result = card.locator('[data-testid="test-webhook-result"][data-ok]')
    await result.waitFor({ timeout: 20000 })
    const out = {
      honeybookURL, dubsadoURL,
      connection: await card.getAttribute('data-connection'),
      resultOK: await result.getAttribute('data-ok'),
      inboxId: await result.getAttribute('data-inbox-id'),
      message: (await result.textContent()).trim(),
      errors,
    }
    await shot(page, 'integrations')
    return out
  } finally {
    await close()
  }
})
