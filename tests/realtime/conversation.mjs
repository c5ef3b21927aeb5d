// Two participants of a private conversation receive a message that a third participant
// inserted through SQL; the sender (self: false) does not get it back; an outsider's join is
// refused by the RLS policies and they receive nothing.
import { ask, check, client, env, join, run, subscribed, waitFor } from './lib.mjs'

run(async () => {
  const topic = `conversation:${env('CONVERSATION_ID')}`
  const config = { private: true, broadcast: { self: false } }
  const ava = await join(client('ava', env('AVA_TOKEN')), topic, config)
  const noah = await join(client('noah', env('NOAH_TOKEN'), { vsn: '1.0.0' }), topic, config)
  const lena = await join(client('lena', env('LENA_TOKEN')), topic, config)
  const oscar = await join(client('oscar', env('OSCAR_TOKEN')), topic, config)
  await subscribed(ava, 'ava')
  await subscribed(noah, 'noah')
  await subscribed(lena, 'lena')
  await waitFor(() => oscar.errors.length > 0, "the outsider's join to be refused")
  check(oscar.count('SUBSCRIBED') === 0, 'the outsider never subscribed')
  check(
    oscar.errors[0].includes(`Unauthorized: You do not have permissions to read from this Channel topic: ${topic}`),
    `refusal reason: ${oscar.errors[0]}`
  )

  const first = await ask('subscribed') // Go inserts a message as lena
  const got = (rec, id) => rec.broadcasts.some((b) => b.event === 'message.created' && b.payload.data?.message_id === id)
  await waitFor(() => got(ava, first.message_id) && got(noah, first.message_id), 'both participants to receive the message')
  const p = ava.broadcasts[0].payload
  check(ava.broadcasts[0].event === 'message.created' && p.type === 'message.created', 'event name and type')
  check(p.actor === env('LENA_ID') && p.data.sender_id === env('LENA_ID'), 'actor is the sender')
  check(p.subject.conversation_id === env('CONVERSATION_ID'), 'subject names the conversation')
  check(typeof p.key === 'string' && p.key.includes('/'), 'stable key present')
  check(p.data.body_preview === first.body, `body preview: ${p.data.body_preview}`)
  check(JSON.stringify(noah.broadcasts[0].payload) === JSON.stringify(p), 'same payload over 1.0.0')

  // A message by ava: lena receives it, and it is the first one she gets.
  const second = await ask('received')
  await waitFor(() => got(lena, second.message_id) && got(noah, second.message_id), 'lena and noah to receive the second message')
  check(lena.broadcasts.length === 1, `lena got her own message back: ${JSON.stringify(lena.broadcasts)}`)
  check(!got(ava, second.message_id), 'ava (self: false) did not get her own message back')
  check(oscar.broadcasts.length === 0, 'the outsider received nothing')
  return { ava: ava.broadcasts.length, noah: noah.broadcasts.length, lena: lena.broadcasts.length, oscar: oscar.broadcasts.length }
})
