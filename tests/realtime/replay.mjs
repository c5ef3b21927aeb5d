// Missed events come back: a participant disconnects, ten messages are written, and on
// rejoining with broadcast.replay.since (the time it received its last event) it gets exactly
// those ten, marked replayed, oldest first, then live ones. Also: limit and the cap of 25, the
// refusal of replay on a public channel (by supabase-js itself) and for an outsider, and
// persisted client broadcasts (send({ persist: true })) replayed to a later joiner, refused
// for a user who may not write the topic.
import { ask, check, client, env, join, run, subscribed, waitFor } from './lib.mjs'

run(async () => {
  const topic = `conversation:${env('CONVERSATION_ID')}`
  const chatter = env('CHATTER_TOPIC')
  const created = (rec) => rec.broadcasts.filter((b) => b.event === 'message.created')

  // 1. ava is subscribed and receives a message.
  const avaClient = client('ava', env('AVA_TOKEN'))
  let ava = await join(avaClient, topic, { private: true })
  await subscribed(ava, 'ava')
  const first = await ask('subscribed') // Go: one message as lena
  await waitFor(() => created(ava).some((b) => b.payload.data.message_id === first.message_id), 'the first message')
  const seen = new Set(created(ava).map((b) => b.payload.key))
  const lastSeenAt = Date.now()

  // 2. ava's tab goes away; ten messages are written meanwhile.
  await avaClient.supabase.removeChannel(ava.channel)
  const missed = await ask('disconnected') // Go: ten messages as lena, in order
  check(missed.message_ids.length === 10, 'ten messages written')

  // 3. ava rejoins with replay since her last event: exactly those ten, in order, replayed.
  ava = await join(avaClient, topic, { private: true, broadcast: { replay: { since: lastSeenAt } } })
  await subscribed(ava, 'ava (rejoined)')
  await waitFor(() => created(ava).length >= 10, 'the ten missed messages')
  const replayed = created(ava)
  check(replayed.length === 10, `exactly ten replayed, got ${replayed.length}`)
  check(
    JSON.stringify(replayed.map((b) => b.payload.data.message_id)) === JSON.stringify(missed.message_ids),
    'replayed in the order they were written'
  )
  for (const b of replayed) {
    check(b.meta?.replayed === true && typeof b.meta.id === 'string', `marked replayed with its id: ${JSON.stringify(b)}`)
    check(!seen.has(b.payload.key), `no duplicate of what ava had: ${b.payload.key}`)
  }
  check(new Set(replayed.map((b) => b.payload.key)).size === 10, 'no duplicates among the replayed')

  // 4. Then live ones, not marked replayed.
  const live = await ask('replayed') // Go: one more message
  await waitFor(() => created(ava).some((b) => b.payload.data.message_id === live.message_id), 'the live message')
  const l = created(ava).at(-1)
  check(l.payload.data.message_id === live.message_id && !l.meta?.replayed, 'the live message follows, not replayed')
  check(created(ava).length === 11, `nothing else arrived: ${created(ava).length}`)

  // 5. limit: the newest n; a limit over 25, or none, is capped at 25.
  const more = await ask('live-seen') // Go: fifteen more messages (26+ stored on the topic)
  const noahClient = client('noah', env('NOAH_TOKEN'), { vsn: '1.0.0' })
  const three = await join(noahClient, topic, { private: true, broadcast: { replay: { since: 0, limit: 3 } } })
  await subscribed(three, 'noah (limit 3)')
  await waitFor(() => created(three).length >= 3, 'three replayed')
  check(
    JSON.stringify(created(three).map((b) => b.payload.data.message_id)) === JSON.stringify(more.message_ids.slice(-3)),
    'limit 3 replays the newest three, oldest first'
  )
  const lenaClient = client('lena', env('LENA_TOKEN'))
  const capped = await join(lenaClient, topic, { private: true, broadcast: { replay: { since: 0, limit: 100 } } })
  await subscribed(capped, 'lena (limit 100)')
  await waitFor(() => created(capped).length >= 25, '25 replayed')
  const marker = await ask('capped') // Go: one more message, a marker that nothing else is coming
  await waitFor(() => created(capped).some((b) => b.payload.data.message_id === marker.message_id), 'the marker')
  check(created(capped).length === 26, `25 replayed and the marker, got ${created(capped).length}`)

  // 6. Replay on a public channel: supabase-js refuses to build it, as Supabase Realtime would.
  let publicError = ''
  try {
    avaClient.supabase.channel(`${topic}:public`, { config: { broadcast: { replay: { since: 0 } } } })
  } catch (err) {
    publicError = String(err.message)
  }
  check(publicError.includes('replay on public channel'), `public replay refused: ${publicError}`)

  // 7. An outsider's replay request is refused and receives nothing.
  const oscar = await join(client('oscar', env('OSCAR_TOKEN')), topic, { private: true, broadcast: { replay: { since: 0 } } })
  await waitFor(() => oscar.errors.length > 0, "the outsider's replay join to be refused")
  check(oscar.errors[0].includes('Unauthorized'), `refusal: ${oscar.errors[0]}`)
  check(oscar.broadcasts.length === 0, 'the outsider received nothing')

  // 8. A persisted client broadcast is replayed to a later joiner.
  const before = Date.now() - 1000
  const sender = await join(client('ava-2', env('AVA_TOKEN')), chatter, { private: true, broadcast: { ack: true } })
  await subscribed(sender, 'ava (chatter)')
  const sent = await sender.channel.send({ type: 'broadcast', event: 'note', payload: { text: 'kept for later' }, persist: true })
  check(sent === 'ok', `persisted send acknowledged: ${sent}`)
  const later = await join(client('noah-2', env('NOAH_TOKEN')), chatter, { private: true, broadcast: { replay: { since: before } } })
  await subscribed(later, 'noah (chatter)')
  await waitFor(() => later.broadcasts.some((b) => b.event === 'note'), 'the persisted note')
  const note = later.broadcasts.find((b) => b.event === 'note')
  check(note.payload.text === 'kept for later' && note.meta?.replayed === true, `note replayed: ${JSON.stringify(note)}`)

  // 9. persist by a user who may read but not write the topic is refused.
  const wedding = await join(lenaClient, `wedding:${env('WEDDING_ID')}`, { private: true, broadcast: { ack: true } })
  await subscribed(wedding, 'lena (wedding)')
  const refused = await wedding.channel.send({ type: 'broadcast', event: 'vendor.status_changed', payload: { forged: true }, persist: true })
  check(typeof refused === 'string' && refused.startsWith('Unauthorized'), `persist refused: ${refused}`)
  return { replayed: replayed.length, capped: created(capped).length }
})
