// The settings page stores what is toggled (the Go side checks the database): the "from
// vendors" switch, push registration, quiet hours and time zone.
import { base, env, launch, watch, shot, run } from './lib.mjs'

const who = env('AS')

run(async () => {
  const { context, close } = await launch()
  try {
    const page = await context.newPage()
    const errors = watch(page, 'settings')
    await page.goto(`${base}/demo/settings/notifications?as=${who}`)
    const status = page.locator('[data-testid="settings-status"]')
    const seq = async () => Number((await status.getAttribute('data-seq')) || 0)
    const saved = async (n) => page.locator(`[data-testid="settings-status"][data-seq="${n}"]`).waitFor({ timeout: 20000 })

    const toggle = page.locator('[data-testid="vendor-notifications-toggle"]')
    const before = await toggle.isChecked()
    let n = await seq()
    await toggle.click()
    await saved(n + 1)
    const toggleOK = await status.getAttribute('data-ok')
    const after = await toggle.isChecked()

    n = await seq()
    await page.locator('[data-testid="push-notifications-enable"]').click()
    await saved(n + 1)
    const pushOK = await status.getAttribute('data-ok')
    const deviceId = await page.locator('[data-testid="push-notifications-enable"]').getAttribute('data-device-id')

    n = await seq()
    await page.locator('[data-testid="timezone-select"]').selectOption('Europe/Paris')
    await page.locator('[data-testid="quiet-hours-start"]').fill('21:30')
    await page.locator('[data-testid="quiet-hours-end"]').fill('07:15')
    await page.locator('[data-testid="save-quiet-hours"]').click()
    await saved(n + 1)
    const quietOK = await status.getAttribute('data-ok')
    await shot(page, 'settings')
    return { before, after, toggleOK, pushOK, deviceId, quietOK, timezone: 'Europe/Paris', quietStart: '21:30', quietEnd: '07:15', errors }
  } finally {
    await close()
  }
})
