// The sidecar is killed and started again: the clients reconnect, rejoin, and receive new
// messages.
import { ask, check, client, env, join, run, subscribed, waitFor } from './lib.mjs'

run(async () => {
  const topic = `conversation:${env('CONVERSATION_ID')}`
  const config = { private: true }
  const ava = await join(client('ava', env('AVA_TOKEN')), topic, config)
  const noah = await join(client('noah', env('NOAH_TOKEN'), { vsn: '1.0.0' }), topic, config)
  await subscribed(ava, 'ava')
  await subscribed(noah, 'noah')
  const got = (rec, id) => rec.broadcasts.some((b) => b.payload.data?.message_id === id)

  const before = await ask('subscribed') // Go inserts a message
  await waitFor(() => got(ava, before.message_id) && got(noah, before.message_id), 'the message before the restart')

  await ask('ready-for-restart') // Go kills the sidecar and starts it again
  await waitFor(() => ava.count('SUBSCRIBED') >= 2 && noah.count('SUBSCRIBED') >= 2, 'both channels to rejoin', 60000)
  const after = await ask('rejoined') // Go inserts a message
  await waitFor(() => got(ava, after.message_id) && got(noah, after.message_id), 'the message after the restart')
  check(ava.broadcasts.length === 2 && noah.broadcasts.length === 2, 'one copy of each message')
  return { statuses: { ava: ava.statuses, noah: noah.statuses } }
})
