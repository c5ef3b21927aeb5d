// Client-to-client broadcast (on the conversation's chatter topic, the one clients may send
// on) with ack: true, acknowledged over vsn 2.0.0 (sent as binary
// kind 3, received as binary kind 4) and over vsn 1.0.0 (JSON text).
import { check, client, env, join, run, subscribed, waitFor } from './lib.mjs'

run(async () => {
  const topic = `conversation:${env('CONVERSATION_ID')}:chatter`
  const config = { private: true, broadcast: { ack: true, self: false } }
  const v2 = client('ava', env('AVA_TOKEN')) // supabase-js 2.119 defaults to 2.0.0
  const v2b = client('lena', env('LENA_TOKEN'))
  const v1 = client('noah', env('NOAH_TOKEN'), { vsn: '1.0.0' })
  const ava = await join(v2, topic, config)
  const lena = await join(v2b, topic, config)
  const noah = await join(v1, topic, config)
  await subscribed(ava, 'ava')
  await subscribed(lena, 'lena')
  await subscribed(noah, 'noah')

  const before = v2.frames.binarySent
  const r1 = await ava.channel.send({ type: 'broadcast', event: 'typing', payload: { who: 'ava', text: 'wörld ✓' } })
  check(r1 === 'ok', `ava's broadcast acknowledged over 2.0.0: ${r1}`)
  check(v2.frames.binarySent === before + 1, 'sent as a binary frame (kind 3)')
  await waitFor(() => lena.broadcasts.length === 1 && noah.broadcasts.length === 1, 'lena and noah to receive ava')
  check(lena.broadcasts[0].payload.text === 'wörld ✓' && noah.broadcasts[0].payload.text === 'wörld ✓', 'payload intact')
  check(v2b.frames.binaryReceived >= 1, 'lena (2.0.0) received it as a binary frame (kind 4)')
  check(v1.frames.binaryReceived === 0, 'noah (1.0.0) never receives binary frames')

  const r2 = await noah.channel.send({ type: 'broadcast', event: 'typing', payload: { who: 'noah' } })
  check(r2 === 'ok', `noah's broadcast acknowledged over 1.0.0: ${r2}`)
  check(v1.frames.binarySent === 0, '1.0.0 sends text only')
  await waitFor(() => ava.broadcasts.length === 1 && lena.broadcasts.length === 2, 'ava and lena to receive noah')
  check(ava.broadcasts[0].payload.who === 'noah', 'ava got noah, not herself')
  check(noah.broadcasts.length === 1, 'noah (self: false) did not get his own')
  return { v2: v2.frames, v1: v1.frames }
})
