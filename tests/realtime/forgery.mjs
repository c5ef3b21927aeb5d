// A participant cannot forge server events: lena (a participant and a vendor member) sends
// message.created on every server topic she may join (the conversation, the wedding, her
// vendor, her own user topic). The receivers (ava on the conversation and the wedding, lena's
// second tab on the vendor and user topics) get none of it, while the server events the Go side
// causes afterwards on each of those topics do arrive, so the test cannot pass vacuously. Her
// chatter broadcast does arrive.
import { ask, check, client, env, join, run, subscribed, waitFor } from './lib.mjs'

run(async () => {
  const conv = `conversation:${env('CONVERSATION_ID')}`
  const topics = {
    conversation: conv,
    wedding: `wedding:${env('WEDDING_ID')}`,
    vendor: `vendor:${env('LENA_VENDOR_ID')}`,
    user: `user:${env('LENA_ID')}`,
  }
  const chatter = `${conv}:chatter`
  const config = { private: true }
  const lena = client('lena', env('LENA_TOKEN'))
  const lenaTab = client('lena-tab', env('LENA_TOKEN'))
  const ava = client('ava', env('AVA_TOKEN'))
  const sender = {}
  for (const [k, t] of Object.entries(topics)) sender[k] = await join(lena, t, config)
  const lenaChatter = await join(lena, chatter, { private: true, broadcast: { ack: true } })
  const recv = {
    conversation: await join(ava, topics.conversation, config),
    wedding: await join(ava, topics.wedding, config),
    vendor: await join(lenaTab, topics.vendor, config),
    user: await join(lenaTab, topics.user, config),
  }
  const avaChatter = await join(ava, chatter, config)
  for (const [k, r] of Object.entries(sender)) await subscribed(r, `lena on ${k}`)
  for (const [k, r] of Object.entries(recv)) await subscribed(r, `receiver on ${k}`)
  await subscribed(lenaChatter, 'lena on chatter')
  await subscribed(avaChatter, 'ava on chatter')

  for (const [k, r] of Object.entries(sender)) {
    await r.channel.send({ type: 'broadcast', event: 'message.created', payload: { forged: k, data: { body_preview: 'forged' } } })
  }
  // Frames of one socket are handled in order: once the chatter ack is back, every forged
  // broadcast above was handled (and, had it been allowed, already queued to the receivers).
  const ack = await lenaChatter.channel.send({ type: 'broadcast', event: 'typing', payload: { who: 'lena' } })
  check(ack === 'ok', `chatter broadcast acknowledged: ${ack}`)
  await waitFor(() => avaChatter.broadcasts.some((b) => b.event === 'typing' && b.payload.who === 'lena'), 'ava to see lena typing')

  const server = await ask('forged') // Go causes one server event per topic
  const arrived = (rec, event, pred) => rec.broadcasts.some((b) => b.event === event && pred(b.payload))
  await waitFor(() => arrived(recv.conversation, 'message.created', (p) => p.data?.message_id === server.message_id), 'the server message')
  await waitFor(() => arrived(recv.wedding, 'task.updated', (p) => p.subject?.id === server.task_id), 'the server task update')
  await waitFor(() => arrived(recv.vendor, 'availability.changed', (p) => p.data?.vendor_id === env('LENA_VENDOR_ID')), 'the server availability change')
  await waitFor(() => arrived(recv.user, 'notification.created', (p) => p.data?.notification_id === server.notification_id), 'the server notification')
  const forged = {}
  for (const [k, r] of Object.entries(recv)) {
    forged[k] = r.broadcasts.filter((b) => b.payload?.forged !== undefined).length
    check(forged[k] === 0, `a forged broadcast reached the ${k} topic: ${JSON.stringify(r.broadcasts)}`)
    check(r.broadcasts.every((b) => b.payload?.key), `every broadcast on ${k} is a server event`)
  }
  return { forged, received: Object.fromEntries(Object.entries(recv).map(([k, r]) => [k, r.broadcasts.length])) }
})
