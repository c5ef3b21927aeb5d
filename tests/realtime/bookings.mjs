// booking.updated reaches only those who may read the booking: the booking vendor's members
// (vendor:<id>) and the wedding's couple (couple:<wedding>), never another vendor of the
// wedding (priya, the planner, on wedding:<id> and her own vendor topic), who does get the
// wedding's next task update, so the absence is not vacuous.
import { ask, check, client, env, join, run, subscribed, waitFor } from './lib.mjs'

run(async () => {
  const wedding = `wedding:${env('WEDDING_ID')}`
  const couple = `couple:${env('WEDDING_ID')}`
  const config = { private: true }
  const lena = await join(client('lena', env('LENA_TOKEN')), `vendor:${env('LENA_VENDOR_ID')}`, config)
  const avaC = client('ava', env('AVA_TOKEN'))
  const avaCouple = await join(avaC, couple, config)
  const avaWedding = await join(avaC, wedding, config)
  const priyaC = client('priya', env('PRIYA_TOKEN'))
  const priyaWedding = await join(priyaC, wedding, config)
  const priyaVendor = await join(priyaC, `vendor:${env('PRIYA_VENDOR_ID')}`, config)
  const priyaCouple = await join(priyaC, couple, config)
  for (const [n, r] of Object.entries({ lena, avaCouple, avaWedding, priyaWedding, priyaVendor })) await subscribed(r, n)
  await waitFor(() => priyaCouple.errors.length > 0, "priya's join of the couple topic to be refused")
  check(priyaCouple.count('SUBSCRIBED') === 0, 'another vendor may not join the couple topic')

  const b = await ask('subscribed') // Go updates lena's booking, then a task of the wedding
  const got = (rec, event, id) => rec.broadcasts.some((m) => m.event === event && m.payload.subject?.id === id)
  await waitFor(() => got(lena, 'booking.updated', b.booking_id), 'lena (the booking vendor) to receive booking.updated')
  await waitFor(() => got(avaCouple, 'booking.updated', b.booking_id), 'the couple to receive booking.updated')
  await waitFor(() => got(priyaWedding, 'task.updated', b.task_id) && got(avaWedding, 'task.updated', b.task_id), 'the later task update on the wedding topic')
  const bookings = (rec) => rec.broadcasts.filter((m) => m.event === 'booking.updated').length
  check(bookings(priyaWedding) === 0 && bookings(priyaVendor) === 0, `priya received a booking she may not read`)
  check(bookings(avaWedding) === 0, 'bookings no longer travel on the wedding topic')
  return { lena: bookings(lena), couple: bookings(avaCouple), priya: bookings(priyaWedding) + bookings(priyaVendor) }
})
