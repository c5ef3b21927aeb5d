// Shared helpers of the browser scenarios: real Chromium (Debian's /usr/bin/chromium) driven by
// playwright-core against a running `vendorhub dev`. A scenario prints one JSON line with what
// it observed ({"ok": true, ...}); the Go test (browser_test.go) checks it against the
// database. Errors exit non-zero with the message on stderr.
import { chromium } from 'playwright-core'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export const base = env('BASE_URL')
export const artifacts = env('ARTIFACTS')

export function env(name) {
  const v = process.env[name]
  if (!v) throw new Error(`missing environment variable ${name}`)
  return v
}

// The flags the project runs Chromium with: headless, no sandbox (root in CI), no GPU, no QUIC,
// and nothing that phones home.
export const chromiumFlags = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
]

// launch starts Chromium with a fresh --user-data-dir (a persistent context: its pages are
// tabs of one browser window) and returns the context and a cleanup function.
export async function launch(options = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vendorhub-chromium-'))
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: chromiumFlags,
    viewport: options.viewport || { width: 1280, height: 900 },
    ...(options.isMobile ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  })
  const close = async () => {
    await context.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return { context, close }
}

// watch records a page's console errors and uncaught exceptions.
export function watch(page, label) {
  const errors = []
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`${label}: console: ${msg.text()}`) })
  page.on('pageerror', (err) => errors.push(`${label}: pageerror: ${err.message}`))
  page.on('requestfailed', (req) => errors.push(`${label}: request failed: ${req.url()} ${req.failure()?.errorText}`))
  return errors
}

export async function shot(page, name) {
  fs.mkdirSync(artifacts, { recursive: true })
  const file = path.join(artifacts, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  return file
}

export function done(result) {
  process.stdout.write(JSON.stringify({ ok: true, ...result }) + '\n')
}

// run runs a scenario, printing its result or failing with its error.
export function run(fn) {
  fn().then(
    (result) => { done(result); process.exit(0) },
    (err) => { process.stderr.write(`${err.stack || err}\n`); process.exit(1) },
  )
}
