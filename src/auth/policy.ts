/**
 * Who may read what: a list of rules (identity patterns × secret-name patterns × optional stages),
 * default deny, checked on every read before the cache is touched. Loaded from
 * SECRETS_GATEWAY_POLICY_FILE (YAML or JSON) and re-read when the file changes.
 *
 * ```yaml
 * rules:
 *   - description: payments API          # optional, free text
 *     identities: ["spiffe://cluster.local/ns/payments/sa/api", "system:serviceaccount:payments:*"]
 *     secrets: ["payments/*", "shared/db-readonly"]
 *     stages: ["ACSCurrent", "ACSPrevious"] # optional; omitted: any stage and any version id
 * ```
 *
 * Patterns: `*` matches any run of characters within one segment, `**` any run including
 * separators, everything else is literal and case-sensitive. Secret names have one separator, `/`.
 * Identities have two, `/` and `:`, so `system:serviceaccount:payments:*` is every service account
 * of namespace `payments` (and not `payments:x:y`), and `spiffe://cluster.local/ns/payments/**` is
 * every SPIFFE ID below that path. `payments/**` does not match `payments` itself. DNS-name
 * identities arrive lower-cased (`identity.ts`): write those patterns in lower case.
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { LRUCache } from 'lru-cache';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors';
import type { Logger } from '../telemetry/logger';
import { pollFile } from './watchedFile';
import { defaultOf } from '../config/settings';

/** The setting named in policy errors. */
export const POLICY_FILE_SETTING = 'SECRETS_GATEWAY_POLICY_FILE';
/** The stage a request without stage or version id reads (as in the proto). */
export const DEFAULT_STAGE = 'ACSCurrent';

/** One rule as written in the file (after validation). */
export interface PolicyRule {
  description?: string;
  identities: string[];
  secrets: string[];
  /** Omitted: any stage and any version id. Present: only these stages, and no read by version id. */
  stages?: string[];
}

/** An authorization decision function. Implementations are immutable: a reload makes a new one. */
export interface Policy {
  /** `rules` for a file's policy, `allow-all` for dev mode / SECRETS_GATEWAY_ALLOW_ALL_CALLERS. */
  readonly kind: 'rules' | 'allow-all';
  /**
   * May `identity` read `secretName`? A request with `versionId` (non-empty) is a read by version
   * id, and the proto then ignores the stage: every rule with `stages` denies it. Otherwise an
   * empty or absent `stage` means ACSCurrent. Default deny; an empty identity is always denied.
   */
  decide(identity: string, secretName: string, stage: string | undefined, versionId: string | undefined): boolean;
}

/** Allows every read: dev mode and SECRETS_GATEWAY_ALLOW_ALL_CALLERS=true only. */
export const allowAllPolicy: Policy = Object.freeze({ kind: 'allow-all' as const, decide: () => true });

/** Which characters a `*` stops at. */
export type PatternKind = 'secret' | 'identity';

const SEGMENT: Record<PatternKind, string> = { secret: '[^/]*', identity: '[^/:]*' };
/** Bounds backtracking on operator-written patterns like `*a*a*a*a`. */
const MAX_WILDCARDS = 8;
const MAX_PATTERN_LENGTH = 1024;
/** Longer identities are decided but not cached (none of ours is: SPIFFE IDs are ≤ 2048 bytes). */
const MAX_CACHED_IDENTITY = 2048;

/** A set of patterns compiled once: literals in a Set, all wildcard patterns in one anchored regex. */
class PatternSet {
  private readonly literals = new Set<string>();
  private readonly regex: RegExp | undefined;

  constructor(patterns: readonly string[], kind: PatternKind) {
    const wild: string[] = [];
    for (const p of patterns) {
      if (p.includes('*')) wild.push(patternSource(p, kind));
      else this.literals.add(p);
    }
    // `s`: a `**` crosses any character, newlines included.
    this.regex = wild.length > 0 ? new RegExp(`^(?:${wild.join('|')})$`, 's') : undefined;
  }

  test(s: string): boolean {
    return this.literals.has(s) || (this.regex !== undefined && this.regex.test(s));
  }
}

function patternSource(pattern: string, kind: PatternKind): string {
  return pattern
    .split(/(\*\*|\*)/)
    .map((part) => (part === '**' ? '.*' : part === '*' ? SEGMENT[kind] : part.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')))
    .join('');
}

/** One pattern as a predicate (tests, tools). The policy compiles whole sets instead. */
export function compilePattern(pattern: string, kind: PatternKind): (s: string) => boolean {
  const problem = patternProblem(pattern);
  if (problem) throw new Error(problem);
  const set = new PatternSet([pattern], kind);
  return (s) => set.test(s);
}

interface CompiledRule {
  identities: PatternSet;
  secrets: PatternSet;
  stages: ReadonlySet<string> | undefined;
}

/** What the policy knows about one identity: the rules that name it, and decisions already made. */
interface IdentityView {
  rules: readonly CompiledRule[];
  /** `<stage or \u0001 for a read by version id>\u0000<secret name>` → allowed. At most MAX_DECISIONS_PER_IDENTITY. */
  decisions: Map<string, boolean>;
}

/** Decisions kept per identity; past it the identity's decisions start over (a workload reads a few secrets). */
const MAX_DECISIONS_PER_IDENTITY = 256;
/** A secret name this long is decided but not remembered (names are ≤ 192 characters after validation). */
const MAX_CACHED_NAME = 256;

/**
 * A policy from a file, compiled once. Immutable; holds its own bounded per-identity cache (the
 * rules naming each identity, and its decisions), so a reload starts cold.
 */
export class RulesPolicy implements Policy {
  readonly kind = 'rules' as const;
  private readonly compiled: readonly CompiledRule[];
  /** identity → the rules whose identity patterns match it, and its decisions so far. */
  private readonly byIdentity: LRUCache<string, IdentityView>;

  /** `rules` must be valid (see `parsePolicy`). */
  constructor(
    readonly rules: readonly PolicyRule[],
    opts: { cacheMaxEntries?: number } = {},
  ) {
    this.compiled = rules.map((r) => ({
      identities: new PatternSet(r.identities, 'identity'),
      secrets: new PatternSet(r.secrets, 'secret'),
      stages: r.stages ? new Set(r.stages) : undefined,
    }));
    this.byIdentity = new LRUCache({ max: opts.cacheMaxEntries ?? 10_000 });
  }

  /** Identities in the cache (tests, metrics). */
  get cacheSize(): number {
    return this.byIdentity.size;
  }

  decide(identity: string, secretName: string, stage: string | undefined, versionId: string | undefined): boolean {
    if (!identity) return false;
    const view = this.viewOf(identity);
    if (view.rules.length === 0) return false;
    const wantStage = versionId ? undefined : stage || DEFAULT_STAGE;
    if (secretName.length > MAX_CACHED_NAME) return judge(view.rules, secretName, wantStage);
    const key = `${wantStage ?? '\u0001'}\u0000${secretName}`;
    const known = view.decisions.get(key);
    if (known !== undefined) return known;
    const allowed = judge(view.rules, secretName, wantStage);
    if (view.decisions.size >= MAX_DECISIONS_PER_IDENTITY) view.decisions.clear();
    view.decisions.set(key, allowed);
    return allowed;
  }

  private viewOf(identity: string): IdentityView {
    const hit = this.byIdentity.get(identity);
    if (hit) return hit;
    const view = { rules: this.compiled.filter((r) => r.identities.test(identity)), decisions: new Map<string, boolean>() };
    if (identity.length <= MAX_CACHED_IDENTITY) this.byIdentity.set(identity, view);
    return view;
  }
}

/** Whether one of `rules` (all naming the identity) lets it read `secretName` at `wantStage` (undefined: by version id). */
function judge(rules: readonly CompiledRule[], secretName: string, wantStage: string | undefined): boolean {
  for (const r of rules) {
    if (!r.secrets.test(secretName)) continue;
    if (r.stages === undefined || (wantStage !== undefined && r.stages.has(wantStage))) return true;
  }
  return false;
}

/**
 * Parses and validates a policy document (YAML, or JSON which is YAML). Strict: unknown keys,
 * wrong types, empty lists and malformed patterns are errors, each named by its path
 * (`rules[2].secrets[0]: ...`); all of them are reported at once (up to 20).
 * @throws ConfigError(`setting`, ...)
 */
export function parsePolicy(text: string, opts: { setting?: string; source?: string; cacheMaxEntries?: number } = {}): RulesPolicy {
  const setting = opts.setting ?? POLICY_FILE_SETTING;
  const where = opts.source ? ` (in ${opts.source})` : '';
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: false, uniqueKeys: true, maxAliasCount: 100 });
  } catch (err) {
    // prettyErrors would quote the offending lines; the position is enough.
    const offset = (err as { pos?: [number, number] }).pos?.[0];
    const before = offset === undefined ? undefined : text.slice(0, offset).split('\n');
    const at = before ? ` at line ${before.length}, column ${before.at(-1)!.length + 1}` : '';
    throw new ConfigError(setting, `not valid YAML or JSON${at}: ${err instanceof Error ? err.message : String(err)}${where}`);
  }
  const problems: string[] = [];
  const rules = validateDocument(doc, problems);
  if (problems.length > 0) {
    const shown = problems.slice(0, 20).join('; ') + (problems.length > 20 ? `; and ${problems.length - 20} more` : '');
    throw new ConfigError(setting, shown + where);
  }
  return new RulesPolicy(rules, opts);
}

const TOP_KEYS = new Set(['rules']);
const RULE_KEYS = new Set(['description', 'identities', 'secrets', 'stages']);

function validateDocument(doc: unknown, problems: string[]): PolicyRule[] {
  if (!isPlainObject(doc)) {
    problems.push(doc == null ? 'the file is empty: expected a top-level `rules:` list' : 'expected a mapping with a `rules:` list at the top');
    return [];
  }
  for (const k of Object.keys(doc)) if (!TOP_KEYS.has(k)) problems.push(`${k}: unknown key (allowed: rules)`);
  if (!('rules' in doc)) problems.push('rules: missing (write `rules: []` to deny every caller)');
  else if (!Array.isArray(doc.rules)) problems.push('rules: must be a list');
  else return doc.rules.map((r: unknown, i: number) => validateRule(r, `rules[${i}]`, problems));
  return [];
}

function validateRule(raw: unknown, path: string, problems: string[]): PolicyRule {
  if (!isPlainObject(raw)) {
    problems.push(`${path}: must be a mapping with identities and secrets`);
    return { identities: [], secrets: [] };
  }
  for (const k of Object.keys(raw)) if (!RULE_KEYS.has(k)) problems.push(`${path}.${k}: unknown key (allowed: ${[...RULE_KEYS].join(', ')})`);
  const rule: PolicyRule = {
    identities: stringList(raw.identities, `${path}.identities`, problems, patternProblem),
    secrets: stringList(raw.secrets, `${path}.secrets`, problems, patternProblem),
  };
  if (raw.stages !== undefined) rule.stages = stringList(raw.stages, `${path}.stages`, problems, stageProblem);
  if (raw.description !== undefined) {
    if (typeof raw.description === 'string') rule.description = raw.description;
    else problems.push(`${path}.description: must be a string`);
  }
  return rule;
}

function stringList(raw: unknown, path: string, problems: string[], check: (s: string) => string | undefined): string[] {
  if (raw === undefined) {
    problems.push(`${path}: missing`);
    return [];
  }
  if (!Array.isArray(raw) || raw.length === 0) {
    problems.push(`${path}: must be a non-empty list of strings${path.endsWith('.stages') ? ' (omit it to allow any stage)' : ''}`);
    return [];
  }
  const out: string[] = [];
  raw.forEach((item: unknown, i) => {
    const problem = typeof item === 'string' ? check(item) : 'must be a string';
    if (problem) problems.push(`${path}[${i}]: ${problem}`);
    else out.push(item as string);
  });
  return out;
}

function patternProblem(p: string): string | undefined {
  if (p === '') return 'must not be empty';
  if (p.length > MAX_PATTERN_LENGTH) return `longer than ${MAX_PATTERN_LENGTH} characters`;
  if (p.trim() !== p) return 'has leading or trailing whitespace';
  if (/[\u0000-\u001f\u007f]/.test(p)) return 'contains a control character';
  if (p.includes('***')) return `${JSON.stringify(p)}: use * (one segment) or ** (any segments), not ***`;
  if ((p.match(/\*+/g) ?? []).length > MAX_WILDCARDS) return `${JSON.stringify(p)}: more than ${MAX_WILDCARDS} wildcards`;
  return undefined;
}

function stageProblem(s: string): string | undefined {
  if (s === '') return 'must not be empty';
  if (s.trim() !== s) return 'has leading or trailing whitespace';
  if (s.includes('*')) return `${JSON.stringify(s)}: stages are exact names, not patterns`;
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Something that hands out the policy in force and says when it changes. */
export interface PolicySource {
  readonly current: Policy;
  /** `listener(next, previous)` after each effective reload. Returns the unsubscribe function. */
  onChange(listener: (next: Policy, previous: Policy) => void): () => void;
  close(): void;
}

/** A policy that never changes (allow-all for dev mode, or a fixed policy in tests). */
export function staticPolicySource(policy: Policy = allowAllPolicy): PolicySource {
  return { current: policy, onChange: () => () => {}, close: () => {} };
}

export interface PolicyStoreOptions {
  file: string;
  logger: Logger;
  /** How often the file is stat'ed. @default setting SECRETS_GATEWAY_TLS_RELOAD_INTERVAL_MS */
  pollIntervalMs?: number;
  /** Per-identity decision cache bound. @default 10000 */
  cacheMaxEntries?: number;
  /** @default 'SECRETS_GATEWAY_POLICY_FILE' */
  setting?: string;
}

/**
 * The policy file, loaded at start and re-read when it changes (stat polling, see `pollFile`). A
 * bad new file is logged and the old policy kept.
 */
export class PolicyStore implements PolicySource {
  private policy: RulesPolicy;
  private text: string;
  private readonly listeners = new Set<(next: Policy, previous: Policy) => void>();
  private reloading: Promise<boolean> = Promise.resolve(true);
  private closed = false;
  private readonly stopPolling: () => void;

  /** Reads and validates the file synchronously (startup). @throws ConfigError naming the setting and the rule/field. */
  constructor(private readonly opts: PolicyStoreOptions) {
    let baseline: Stats;
    try {
      baseline = statSync(opts.file);
      this.text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new ConfigError(this.setting, `${opts.file}: cannot be read (${(err as { code?: string }).code ?? 'error'})`);
    }
    this.policy = this.parse(this.text);
    this.stopPolling = pollFile(
      opts.file,
      baseline,
      opts.pollIntervalMs ?? defaultOf('SECRETS_GATEWAY_TLS_RELOAD_INTERVAL_MS'),
      () => void this.reload(),
      () => opts.logger.warn('policy file is gone; keeping the previous policy', { file: opts.file }),
    );
  }

  get current(): RulesPolicy {
    return this.policy;
  }

  onChange(listener: (next: Policy, previous: Policy) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Re-reads the file now (the watcher calls this on change; also for SIGHUP). Resolves true when
   * the file's policy is in force (unchanged text counts, and fires no listener), false when the
   * new file was bad and the old policy kept. Calls are serialized.
   */
  reload(): Promise<boolean> {
    this.reloading = this.reloading.then(async () => {
      if (this.closed) return false;
      let next: RulesPolicy;
      let text: string;
      try {
        text = await readFile(this.opts.file, 'utf8');
        if (text === this.text) return true;
        next = this.parse(text);
      } catch (err) {
        const reason = err instanceof ConfigError ? err.message : `cannot be read (${(err as { code?: string }).code ?? 'error'})`;
        this.opts.logger.warn('policy reload failed; keeping the previous policy', { file: this.opts.file, reason });
        return false;
      }
      if (this.closed) return false;
      const previous = this.policy;
      this.policy = next;
      this.text = text;
      this.opts.logger.info('policy reloaded', { file: this.opts.file, rules: next.rules.length });
      for (const l of [...this.listeners]) {
        try {
          l(next, previous);
        } catch (err) {
          this.opts.logger.error('policy change listener failed', { err });
        }
      }
      return true;
    });
    return this.reloading;
  }

  /** Stops watching the file and drops the listeners. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopPolling();
    this.listeners.clear();
  }

  private get setting(): string {
    return this.opts.setting ?? POLICY_FILE_SETTING;
  }

  private parse(text: string): RulesPolicy {
    return parsePolicy(text, { setting: this.setting, source: this.opts.file, cacheMaxEntries: this.opts.cacheMaxEntries });
  }
}
