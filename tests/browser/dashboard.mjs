// The operator dashboard loads without console errors, shows the seeded integrations, draws
// the lag chart and refreshes itself.
import { base, launch, watch, shot, run } from './lib.mjs'

run(async () => {
  const { context, close } = await launch()
  try {
    const page = await context.newPage()
    const errors = watch(page, 'dashboard')
    const resp = await page.goto(base + '/', { waitUntil: 'load' })
    if (resp.status() !== 200) throw new Error(`GET / answered ${resp.status()}`)
    await page.locator('[data-testid="integration-card"]').first().waitFor()
    const cards = await page.locator('[data-testid="integration-card"] h3').allTextContents()
    const level = await page.locator('[data-testid="overall-health"]').getAttribute('data-level')
    const chart = await page.locator('[data-testid="lag-chart"] svg').count()
    // The live refresh replaced the sections at least once.
    await page.locator('[data-testid="refresh-status"][data-at]').waitFor({ timeout: 20000 })
    // Provider cards may appear meanwhile (the dev mailbox's first delivery): compare names.
    const cardsAfter = await page.locator('[data-testid="integration-card"] h3').allTextContents()
    const mailbox = await page.locator('[data-testid="dev-mailbox"]').count()
    const riverui = await context.request.get(base + '/riverui/')
    await shot(page, 'dashboard')
    return { errors, cards, level, chart, cardsAfter, mailbox, riveruiStatus: riverui.status() }
  } finally {
    await close()
  }
})
