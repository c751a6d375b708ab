import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allowAllPolicy, compilePattern, parsePolicy, PolicyStore, staticPolicySource, type Policy, type PatternKind } from '../../src/auth/policy';
import { ConfigError } from '../../src/errors';
import { captureLogger, replaceFile, tempDir, until } from './testKit';

const EXAMPLE = `
rules:
  - description: payments API
    identities: ["spiffe://cluster.local/ns/payments/sa/api", "system:serviceaccount:payments:*"]
    secrets: ["payments/*", "shared/db-readonly"]
    stages: ["ACSCurrent", "ACSPrevious"]
  - identities: ["spiffe://cluster.local/ns/batch/**"]
    secrets: ["batch/**"]
`;

const patterns: Array<[PatternKind, string, string, boolean]> = [
  ['secret', 'payments/*', 'payments/db', true],
  ['secret', 'payments/*', 'payments/a/b', false],
  ['secret', 'payments/*', 'payments', false],
  ['secret', 'payments/*', 'paymentsX/db', false],
  ['secret', 'payments/**', 'payments/a', true],
  ['secret', 'payments/**', 'payments/a/b/c', true],
  ['secret', 'payments/**', 'payments', false],
  ['secret', 'payments/**', 'x/payments/a', false],
  ['secret', '**/db', 'a/b/db', true],
  ['secret', '**', 'any/thing/at/all', true],
  ['secret', '*', 'top', true],
  ['secret', '*', 'a/b', false],
  ['secret', 'app-*-db', 'app-blue-db', true],
  ['secret', 'app-*-db', 'app-blue/x-db', false],
  ['secret', 'shared/db-readonly', 'shared/db-readonly', true],
  ['secret', 'shared/db-readonly', 'shared/db-readonlyX', false],
  ['secret', 'Payments/*', 'payments/db', false],
  // Regex metacharacters are literal.
  ['secret', 'a.b/*', 'aXb/c', false],
  ['secret', 'a.b/*', 'a.b/c', true],
  ['secret', '(x)+/*', '(x)+/y', true],
  ['secret', '(x)+/*', 'xx/y', false],
  ['secret', 'v[1]/*', 'v1/y', false],
  ['secret', 'v[1]/*', 'v[1]/y', true],
  ['secret', 'x?|y', 'x', false],
  ['secret', 'x?|y', 'x?|y', true],
  ['secret', '^a$/\\d*', '^a$/\\d9', true],
  ['secret', 'a/**', 'a/x\ny', true],
  // Identities: `*` stops at `/` and `:`.
  ['identity', 'system:serviceaccount:payments:*', 'system:serviceaccount:payments:api', true],
  ['identity', 'system:serviceaccount:payments:*', 'system:serviceaccount:payments:api:x', false],
  ['identity', 'system:serviceaccount:payments:*', 'system:serviceaccount:payments-x:api', false],
  ['identity', 'system:serviceaccount:*:api', 'system:serviceaccount:batch:api', true],
  ['identity', 'spiffe://cluster.local/ns/payments/**', 'spiffe://cluster.local/ns/payments/sa/api', true],
  ['identity', 'spiffe://cluster.local/ns/payments/**', 'spiffe://cluster.local/ns/paymentsx/sa/api', false],
  ['identity', 'spiffe://cluster.local/ns/*/sa/api', 'spiffe://cluster.local/ns/batch/sa/api', true],
  ['identity', 'spiffe://cluster.local/ns/*/sa/api', 'spiffe://cluster.local/ns/a/b/sa/api', false],
  ['identity', '*.payments.svc', 'api.payments.svc', true],
  ['identity', '*.payments.svc', 'apiXpayments.svc', false],
];
test('pattern semantics: * within a segment, ** across, the rest literal', (t) => {
  for (const [kind, pattern, input, want] of patterns) t.is(compilePattern(pattern, kind)(input), want, `${kind} ${JSON.stringify(pattern)} ~ ${JSON.stringify(input)}`);
});

const decisions: Array<[string, string, string | undefined, string | undefined, boolean, string]> = [
  ['system:serviceaccount:payments:api', 'payments/db', undefined, undefined, true, 'no stage means ACSCurrent'],
  ['system:serviceaccount:payments:api', 'payments/db', '', '', true, 'empty stage and version id, as proto3 sends them'],
  ['system:serviceaccount:payments:api', 'payments/db', 'ACSPrevious', undefined, true, 'listed stage'],
  ['system:serviceaccount:payments:api', 'payments/db', 'ACSPending', undefined, false, 'unlisted stage'],
  ['system:serviceaccount:payments:api', 'payments/db', undefined, 'v-123', false, 'by version id under a rule with stages'],
  ['system:serviceaccount:payments:api', 'payments/db', 'ACSCurrent', 'v-123', false, 'a version id wins over the stage (the proto ignores the stage)'],
  ['spiffe://cluster.local/ns/payments/sa/api', 'shared/db-readonly', undefined, undefined, true, 'literal identity, literal secret'],
  ['spiffe://cluster.local/ns/payments/sa/api', 'shared/db-admin', undefined, undefined, false, 'secret not listed'],
  ['system:serviceaccount:payments:api', 'batch/jobs/a', undefined, undefined, false, 'other rule’s secret'],
  ['spiffe://cluster.local/ns/batch/sa/worker', 'batch/jobs/a', undefined, 'v-1', true, 'no stages: any version id'],
  ['spiffe://cluster.local/ns/batch/sa/worker', 'batch/jobs/a', 'Custom', undefined, true, 'no stages: any stage'],
  ['system:serviceaccount:other:api', 'payments/db', undefined, undefined, false, 'default deny'],
  ['', 'payments/db', undefined, undefined, false, 'empty identity'],
];
test('decide: default deny, stage and version id semantics', (t) => {
  const p = parsePolicy(EXAMPLE);
  for (const [id, name, stage, vid, want, why] of decisions) t.is(p.decide(id, name, stage, vid), want, why);
  // Twice: the cached answer is the same answer.
  for (const [id, name, stage, vid, want, why] of decisions) t.is(p.decide(id, name, stage, vid), want, `cached: ${why}`);
});

test('decide: `**` grants every caller but never the empty identity; `rules: []` denies all', (t) => {
  const open = parsePolicy('rules: [{identities: ["**"], secrets: ["public/*"]}]');
  t.true(open.decide('anything:at/all', 'public/x', undefined, undefined));
  t.false(open.decide('', 'public/x', undefined, undefined));
  t.false(parsePolicy('rules: []').decide('a', 'b', undefined, undefined));
});

test('JSON is accepted too', (t) => {
  const p = parsePolicy(JSON.stringify({ rules: [{ identities: ['a'], secrets: ['b/*'], stages: ['ACSCurrent'] }] }));
  t.true(p.decide('a', 'b/c', undefined, undefined));
});

const invalid: Array<[string, string, RegExp]> = [
  ['unknown top-level key', 'rules: []\nrule: []', /^SECRETS_GATEWAY_POLICY_FILE: rule: unknown key/],
  ['typo in a rule key', 'rules:\n  - identities: [a]\n    secret: [b]', /rules\[0\]\.secret: unknown key.*rules\[0\]\.secrets: missing/],
  ['identities missing', 'rules:\n  - secrets: [b]', /rules\[0\]\.identities: missing/],
  ['empty secrets', 'rules:\n  - identities: [a]\n    secrets: []', /rules\[0\]\.secrets: must be a non-empty list/],
  ['non-string secret', 'rules:\n  - identities: [a]\n    secrets: [b, 3]', /rules\[0\]\.secrets\[1\]: must be a string/],
  ['empty stages', 'rules:\n  - identities: [a]\n    secrets: [b]\n    stages: []', /rules\[0\]\.stages: .*omit it to allow any stage/],
  ['stage pattern', 'rules:\n  - identities: [a]\n    secrets: [b]\n    stages: ["ACS*"]', /rules\[0\]\.stages\[0\]: .*exact names/],
  ['***', 'rules:\n  - identities: ["a/***"]\n    secrets: [b]', /rules\[0\]\.identities\[0\]: .*not \*\*\*/],
  ['whitespace', 'rules:\n  - identities: [a]\n    secrets: ["b "]', /rules\[0\]\.secrets\[0\]: has leading or trailing whitespace/],
  ['empty pattern', 'rules:\n  - identities: [""]\n    secrets: [b]', /rules\[0\]\.identities\[0\]: must not be empty/],
  ['too many wildcards', `rules:\n  - identities: [a]\n    secrets: ["${'*a'.repeat(9)}"]`, /rules\[0\]\.secrets\[0\]: .*more than 8 wildcards/],
  ['description type', 'rules:\n  - identities: [a]\n    secrets: [b]\n    description: [x]', /rules\[0\]\.description: must be a string/],
  ['rule not a mapping', 'rules: [x]', /rules\[0\]: must be a mapping/],
  ['rules not a list', 'rules: {a: b}', /rules: must be a list/],
  ['rules missing', 'other: 1', /rules: missing/],
  ['empty file', '', /the file is empty/],
  ['a list at the top', '- a', /expected a mapping/],
  ['duplicate keys', 'rules: []\nrules: []', /not valid YAML or JSON at line 2, column 1: Map keys must be unique/],
  ['broken YAML', 'rules: [', /not valid YAML or JSON/],
  ['third rule named', 'rules:\n  - {identities: [a], secrets: [b]}\n  - {identities: [a], secrets: [b]}\n  - {identities: [a], secrets: [b, "", c]}', /^SECRETS_GATEWAY_POLICY_FILE: rules\[2\]\.secrets\[1\]: must not be empty$/],
];
for (const [name, text, message] of invalid) {
  test(`validation: ${name}`, (t) => {
    t.throws(() => parsePolicy(text), { instanceOf: ConfigError, message });
  });
}

test('validation reports every problem at once, with the file named', (t) => {
  const err = t.throws(() => parsePolicy('rules:\n  - identities: [1]\n    secrets: []\n    extra: 1', { source: '/etc/policy.yaml' }), { instanceOf: ConfigError });
  t.is((err as ConfigError).setting, 'SECRETS_GATEWAY_POLICY_FILE');
  for (const part of ['rules[0].extra: unknown key', 'rules[0].identities[0]: must be a string', 'rules[0].secrets: must be a non-empty list', '(in /etc/policy.yaml)']) t.true(err!.message.includes(part), part);
});

function policyFile(t: Parameters<typeof tempDir>[0], text: string): string {
  const file = join(tempDir(t), 'policy.yaml');
  writeFileSync(file, text);
  return file;
}

function store(t: Parameters<typeof tempDir>[0], file: string, extra: { pollIntervalMs?: number; cacheMaxEntries?: number } = {}) {
  const { logger, lines } = captureLogger();
  const s = new PolicyStore({ file, logger, pollIntervalMs: extra.pollIntervalMs ?? 3_600_000, cacheMaxEntries: extra.cacheMaxEntries });
  t.teardown(() => s.close());
  return { s, lines };
}

const A = 'system:serviceaccount:payments:api';
const allows = (p: Policy, id = A, name = 'payments/db') => p.decide(id, name, undefined, undefined);

test('PolicyStore: a bad or missing file at start is a ConfigError naming the setting and the field', (t) => {
  const { logger } = captureLogger();
  const bad = policyFile(t, 'rules:\n  - identities: [a]\n    secrets: ["x/***"]');
  t.throws(() => new PolicyStore({ file: bad, logger }), { instanceOf: ConfigError, message: /^SECRETS_GATEWAY_POLICY_FILE: rules\[0\]\.secrets\[0\]: .*\(in .*policy\.yaml\)$/ });
  t.throws(() => new PolicyStore({ file: join(tempDir(t), 'none.yaml'), logger }), { instanceOf: ConfigError, message: /^SECRETS_GATEWAY_POLICY_FILE: .*none\.yaml: cannot be read \(ENOENT\)/ });
});

test('PolicyStore: the watcher applies a new file, fires onChange, and keeps the old policy on a bad file', async (t) => {
  const file = policyFile(t, EXAMPLE);
  const { s, lines } = store(t, file, { pollIntervalMs: 20 });
  t.true(allows(s.current));
  const changes: Array<[Policy, Policy]> = [];
  s.onChange((next, prev) => changes.push([next, prev]));

  const before = s.current;
  replaceFile(file, 'rules:\n  - {identities: ["system:serviceaccount:batch:*"], secrets: ["batch/*"]}');
  await until(() => changes.length === 1);
  t.is(changes[0]![1], before);
  t.is(changes[0]![0], s.current);
  t.false(allows(s.current), 'the right was removed');
  t.true(allows(s.current, 'system:serviceaccount:batch:w', 'batch/x'), 'and a new one granted');

  const kept = s.current;
  replaceFile(file, 'rules:\n  - identities: [a]\n    bogus: 1');
  await until(() => lines.some((l) => l.includes('policy reload failed')));
  t.is(s.current, kept);
  t.is(changes.length, 1);
  const warn = JSON.parse(lines.find((l) => l.includes('policy reload failed'))!);
  t.is(warn.level, 'warn');
  t.regex(warn.reason, /rules\[0\]\.bogus: unknown key/);
});

test('PolicyStore: reload() is explicit too; unchanged text fires nothing; unsubscribe and close stop it', async (t) => {
  const file = policyFile(t, EXAMPLE);
  const { s } = store(t, file);
  let calls = 0;
  let thrown = 0;
  s.onChange(() => {
    thrown++;
    throw new Error('listener bug');
  });
  const off = s.onChange(() => calls++);
  t.true(await s.reload());
  t.is(calls, 0, 'same text: no change');
  writeFileSync(file, EXAMPLE + '\n  - {identities: [x], secrets: [y]}\n');
  t.true(await s.reload());
  t.is(calls, 1, 'a throwing listener does not stop the others');
  t.is(thrown, 1);
  off();
  writeFileSync(file, 'rules: []');
  t.true(await s.reload());
  t.is(calls, 1);
  s.close();
  writeFileSync(file, EXAMPLE);
  t.false(await s.reload(), 'closed: no more reloads');
  t.false(allows(s.current));
});

test('a reload starts with an empty cache: cached answers do not outlive their policy', async (t) => {
  const file = policyFile(t, EXAMPLE);
  const { s } = store(t, file);
  const first = s.current;
  t.true(allows(first));
  t.is(first.cacheSize, 1);
  writeFileSync(file, EXAMPLE.replace('"payments/*", ', ''));
  t.true(await s.reload());
  t.is(s.current.cacheSize, 0);
  t.false(allows(s.current));
  t.true(allows(s.current, A, 'shared/db-readonly'));
});

test('the per-identity cache is bounded (10,000 by default) and eviction does not change answers', (t) => {
  const p = parsePolicy(EXAMPLE);
  for (let i = 0; i < 10_050; i++) p.decide(`system:serviceaccount:payments:sa-${i}`, 'payments/db', undefined, undefined);
  t.is(p.cacheSize, 10_000);
  t.true(p.decide('system:serviceaccount:payments:sa-0', 'payments/db', undefined, undefined), 'evicted, decided again');
  t.false(p.decide('system:serviceaccount:other:sa-0', 'payments/db', undefined, undefined));
  const small = parsePolicy(EXAMPLE, { cacheMaxEntries: 5 });
  for (let i = 0; i < 50; i++) small.decide(`id-${i}`, 'x', undefined, undefined);
  t.is(small.cacheSize, 5);
});

test('allow-all for dev mode, as a policy and as a source', (t) => {
  t.is(allowAllPolicy.kind, 'allow-all');
  t.true(allowAllPolicy.decide('', 'anything', undefined, 'v'));
  const src = staticPolicySource();
  t.is(src.current, allowAllPolicy);
  const off = src.onChange(() => t.fail());
  off();
  src.close();
});

test('remembered decisions answer exactly as a cold policy, per name, stage and version id, past the per-identity bound too', (t) => {
  const warm = parsePolicy(EXAMPLE);
  const API = 'spiffe://cluster.local/ns/payments/sa/api';
  const queries: Array<[string, string, string | undefined, string | undefined]> = [];
  for (const id of [API, 'system:serviceaccount:payments:job', 'spiffe://cluster.local/ns/batch/x/y', 'nobody'])
    for (const name of ['payments/db', 'shared/db-readonly', 'batch/a/b', 'other/x'])
      for (const [stage, versionId] of [[undefined, undefined], ['', undefined], ['ACSPrevious', undefined], ['ACSPending', undefined], ['ACSCurrent', 'v-1'], [undefined, 'v-1']] as const)
        queries.push([id, name, stage, versionId]);
  for (let round = 0; round < 2; round++) {
    for (const q of queries) t.is(warm.decide(...q), parsePolicy(EXAMPLE).decide(...q), `${q.join(' ')} (round ${round})`);
  }
  t.false(warm.decide(API, 'payments/db', undefined, 'v-1'), 'a rule with stages never grants a read by version id, cached or not');
  for (let i = 0; i < 600; i++) t.is(warm.decide(API, `payments/s${i}`, undefined, undefined), true);
  t.false(warm.decide(API, 'payments/a/b', undefined, undefined));
  t.true(warm.decide(API, 'payments/s0', 'ACSPrevious', undefined));
});

test('a reload drops remembered decisions: a grant cached under the old policy is not given under the new one', async (t) => {
  const file = policyFile(t, EXAMPLE);
  const { s } = store(t, file);
  const API = 'spiffe://cluster.local/ns/payments/sa/api';
  for (let i = 0; i < 3; i++) t.true(s.current.decide(API, 'payments/db', 'ACSPrevious', undefined));
  writeFileSync(file, EXAMPLE.replace('"ACSCurrent", "ACSPrevious"', '"ACSCurrent"'));
  t.true(await s.reload());
  t.false(s.current.decide(API, 'payments/db', 'ACSPrevious', undefined), 'the stage was taken away');
  t.true(s.current.decide(API, 'payments/db', undefined, undefined));
});
