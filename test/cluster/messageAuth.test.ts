/** Sealed coordination messages: round trip, and every way a message is refused (and counted). */
import test from 'ava';
import { MessageAuth } from '../../src/cluster/messageAuth';

const key = Buffer.alloc(32, 7);

test('a sealed message opens with the same key and hides its body; every other message is refused and counted', (t) => {
  let now = 1_000_000;
  const a = new MessageAuth({ key, now: () => now, maxAgeMs: 30_000, maxSkewMs: 5_000 });
  const m = a.seal('f|tag|djE|123|origin|');
  t.false(m.includes('djE') || m.includes('tag'), 'the body is not in the clear');
  t.is(a.open(m), 'f|tag|djE|123|origin|');
  t.is(new MessageAuth({ key: Buffer.alloc(32, 8), now: () => now }).open(m), null, 'another key');
  const [v, ts, nonce, ct] = m.split('|');
  const flipped = Buffer.from(ct!, 'base64url');
  flipped[0]! ^= 1;
  t.is(a.open([v, ts, nonce, flipped.toString('base64url')].join('|')), null, 'a flipped byte');
  t.is(a.open([v, String(Number(ts) + 1), nonce, ct].join('|')), null, 'a re-stamped time');
  t.is(a.open('{"k":"g","t":"x","e":"not_found"}'), null, 'an unsealed message');
  now += 30_001;
  t.is(a.open(m), null, 'a replay past the window');
  const future = new MessageAuth({ key, now: () => now + 60_000 }).seal('x');
  t.is(a.open(future), null, 'a time in the future');
  t.deepEqual(a.rejected, { format: 1, mac: 2, expired: 1, future: 1 });
  t.is(a.horizonMs, now + 5_000);
});
