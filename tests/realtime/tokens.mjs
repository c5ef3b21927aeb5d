// An expired token is refused; a token refreshed before it expires keeps the channel, one
// that is not refreshed gets the channel closed when it expires.
import { ask, check, client, env, join, run, subscribed, waitFor } from './lib.mjs'

run(async () => {
  const topic = `conversation:${env('CONVERSATION_ID')}`
  const config = { private: true }
  const expired = await join(client('expired', env('EXPIRED_TOKEN')), topic, config)
  await waitFor(() => expired.errors.length > 0, 'the expired token to be refused')
  check(expired.count('SUBSCRIBED') === 0, 'never subscribed with an expired token')
  check(expired.errors[0].includes('InvalidJWTToken: Token has expired'), `reason: ${expired.errors[0]}`)

  // Tokens valid for a few seconds, minted now (so a slow start cannot expire them early).
  const t = await ask('need-tokens')
  const keptClient = client('kept', t.short)
  const kept = await join(keptClient, topic, config)
  const lapsed = await join(client('lapsed', t.short), topic, config)
  await subscribed(kept, 'kept')
  await subscribed(lapsed, 'lapsed')
  keptClient.setToken(t.long)
  await keptClient.supabase.realtime.setAuth() // pushes access_token with the new token

  await waitFor(() => lapsed.count('CLOSED') > 0, 'the unrefreshed channel to close at expiry')
  check(lapsed.system.some((s) => String(s.message).includes('Token has expired')), `system message: ${JSON.stringify(lapsed.system)}`)
  check(Date.now() / 1000 >= t.exp, 'closed at expiry, not before')

  const msg = await ask('expired') // Go inserts a message
  await waitFor(() => kept.broadcasts.some((b) => b.payload.data?.message_id === msg.message_id), 'the refreshed channel to receive')
  check(kept.count('CLOSED') === 0 && kept.count('CHANNEL_ERROR') === 0, `kept statuses: ${kept.statuses}`)
  check(lapsed.broadcasts.length === 0, 'the closed channel received nothing')
  return {}
})
