// /admin/integration-health: reads every figure (data-value) for the Go side to compare with
// the database.
import { base, launch, watch, shot, run } from './lib.mjs'

const ids = ['overall-integration-health', 'realtime-connections', 'webhook-delivery-rate', 'notification-success-rate',
  'realtime-latency', 'webhook-response-time', 'notification-delivery-time', 'integration-uptime']

run(async () => {
  const { context, close } = await launch()
  try {
    const page = await context.newPage()
    const errors = watch(page, 'health')
    await page.goto(base + '/admin/integration-health')
    const figures = {}
    for (const id of ids) {
      const el = page.locator(`[data-testid="${id}"]`)
      figures[id] = { value: await el.getAttribute('data-value'), n: await el.getAttribute('data-n'), text: (await el.textContent()).trim() }
    }
    const range = page.locator('[data-testid="health-range"]')
    const deliveries = await page.locator('[data-testid="deliveries-by-channel"] tbody tr[data-channel]').evaluateAll((rows) =>
      rows.map((r) => ({ channel: r.dataset.channel, status: r.dataset.status, count: Number(r.querySelector('[data-value]').dataset.value) })))
    await shot(page, 'integration-health')
    return { figures, from: await range.getAttribute('data-from'), to: await range.getAttribute('data-to'), deliveries, errors }
  } finally {
    await close()
  }
})
