import test from 'ava';
import { createLogger } from '../../src/telemetry/logger';

test('the logger redacts sensitive field names at any depth, keeps safe identifiers, and flattens errors', (t) => {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', sink: (l) => lines.push(l) });
  log.child({ secretName: 'app/db' }).info('x', {
    value: 'S1',
    accessKeySecret: 'S2',
    securityToken: 'S3',
    sealKeys: 'S4',
    redisUrl: 'redis://:S5@h',
    nested: { deeper: { password: 'S6', authorization: 'S7' }, caPem: 'S8' },
    requestId: 'R-1',
    err: new Error('boom'),
  });
  const out = JSON.parse(lines[0]!);
  for (const s of ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8']) t.false(lines[0]!.includes(s), s);
  t.is(out.secretName, 'app/db');
  t.is(out.requestId, 'R-1');
  t.deepEqual(out.err, { name: 'Error', message: 'boom' });
  t.is(out.nested.deeper.password, '[REDACTED]');
});

test('credential shapes are scrubbed from any string and any Error message, whatever the field is called; harmless fields stay', (t) => {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', sink: (l) => lines.push(l) });
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJTRU5USU5FTCJ9.c2lnbmF0dXJlLVNFTlRJTkVM';
  const pem = '-----BEGIN PRIVATE KEY-----\nTUlJU0VOVElORUw=\n-----END PRIVATE KEY-----';
  log.warn(`handshake with Bearer ${jwt} failed`, {
    detail: `got ${jwt}`,
    err: new Error(`cannot parse ${pem} from redis://user:pa55-SENTINEL@h:6379 (AccessKeySecret=ak-SENTINEL)`),
    keys: ['db', 'api'],
    versionId: 'v1',
  });
  const line = lines[0]!;
  for (const s of ['SENTINEL', 'eyJ', 'TUlJ', 'pa55']) t.false(line.includes(s), s);
  const out = JSON.parse(line);
  t.deepEqual(out.keys, ['db', 'api'], 'a field named keys is not a key');
  t.is(out.versionId, 'v1');
  t.regex(out.err.message, /\[REDACTED PRIVATE KEY\]/);
});

test('levels below the configured one are dropped', (t) => {
  const lines: string[] = [];
  const log = createLogger({ level: 'warn', sink: (l) => lines.push(l) });
  log.info('no');
  log.debug('no');
  log.warn('yes');
  t.is(lines.length, 1);
});
