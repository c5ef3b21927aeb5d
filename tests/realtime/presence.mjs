// Presence on a private wedding topic: each connected vendor's member is seen by the others,
// and a leave is seen too.
import { check, client, env, join, run, subscribed, waitFor } from './lib.mjs'

run(async () => {
  const topic = `wedding:${env('WEDDING_ID')}`
  const vendors = JSON.parse(env('VENDORS')) // [{name, token, vendor_id, user_id}]
  const members = []
  for (const v of vendors) {
    members.push({ v, rec: await join(client(v.name, v.token), topic, { private: true, presence: { key: v.vendor_id } }, { presence: true }) })
  }
  for (const m of members) await subscribed(m.rec, m.v.name)
  for (const m of members) {
    const status = await m.rec.channel.track({ vendor_id: m.v.vendor_id, user_id: m.v.user_id, name: m.v.name })
    check(status === 'ok', `${m.v.name} track: ${status}`)
  }
  const keys = (rec) => Object.keys(rec.channel.presenceState()).sort()
  const all = vendors.map((v) => v.vendor_id).sort()
  for (const m of members) {
    await waitFor(() => JSON.stringify(keys(m.rec)) === JSON.stringify(all), `${m.v.name} to see every vendor`)
    const state = m.rec.channel.presenceState()
    for (const v of vendors) check(state[v.vendor_id][0].user_id === v.user_id, `${m.v.name} sees ${v.name}'s meta`)
  }

  const [leaving, ...staying] = members
  await leaving.rec.channel.unsubscribe()
  for (const m of staying) {
    await waitFor(() => m.rec.presence.leaves.some((l) => l.key === leaving.v.vendor_id), `${m.v.name} to see ${leaving.v.name} leave`)
    check(!keys(m.rec).includes(leaving.v.vendor_id), `${leaving.v.name} gone from ${m.v.name}'s state`)
    check(keys(m.rec).length === vendors.length - 1, 'the others stay')
  }
  return { vendors: vendors.length }
})
