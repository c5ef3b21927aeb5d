// A participant removed from a conversation stops receiving without reconnecting: the
// gateway closes her channels (the conversation and its chatter topic) after the removal's
// commit (the delay is logged, not asserted: speed is the benchmark's), on the same socket,
// and the next message reaches only the others.
import { ask, check, client, env, join, run, subscribed, waitFor } from './lib.mjs'

run(async () => {
  const conv = `conversation:${env('CONVERSATION_ID')}`
  const config = { private: true }
  const lenaC = client('lena', env('LENA_TOKEN'))
  const lena = await join(lenaC, conv, config)
  const lenaChatter = await join(lenaC, `${conv}:chatter`, config)
  const ava = await join(client('ava', env('AVA_TOKEN')), conv, config)
  for (const [n, r] of Object.entries({ lena, lenaChatter, ava })) await subscribed(r, n)
  const removed = await ask('subscribed') // Go deletes lena's participant row; replies with the commit time
  const state = () => JSON.stringify({
    socket: lenaC.supabase.realtime.isConnected(), frames: lenaC.frames,
    conversation: { statuses: lena.statuses, errors: lena.errors, system: lena.system },
    chatter: { statuses: lenaChatter.statuses, errors: lenaChatter.errors, system: lenaChatter.system },
  })
  await waitFor(() => lena.count('CLOSED') > 0 && lenaChatter.count('CLOSED') > 0, "lena's channels to close", 30000)
    .catch((err) => { throw new Error(`${err.message}: ${state()}`) })
  const lag = Math.max(lena.at.CLOSED, lenaChatter.at.CLOSED) - removed.committed_at_ms
  check(lena.system.some((s) => String(s.message).includes('You no longer have permission to read from this Channel topic')), `system message: ${JSON.stringify(lena.system)}`)
  check(lenaC.supabase.realtime.isConnected(), 'the socket stayed connected')

  const msg = await ask('closed') // Go posts a message as noah
  await waitFor(() => ava.broadcasts.some((b) => b.payload.data?.message_id === msg.message_id), 'ava to receive the next message')
  check(lena.broadcasts.every((b) => b.payload.data?.message_id !== msg.message_id), 'lena did not receive it')
  check(lena.count('SUBSCRIBED') === 1, `lena did not rejoin: ${lena.statuses}`)
  return { lag_ms: lag }
})
