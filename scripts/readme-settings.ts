/**
 * The README's configuration reference, generated from src/config/settings.ts (the one source):
 * each table between `<!-- settings:<group> -->` and `<!-- /settings:<group> -->` is rewritten
 * from SETTINGS, in table order. `--check` (CI) fails when the README differs instead of writing.
 *   npx tsx scripts/readme-settings.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SETTINGS, settingGroup, type Mode, type Setting, type SettingGroup, type SettingName } from '../src/config/settings';

const README = join(__dirname, '..', 'README.md');

function show(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v.length ? v.join(',') : undefined;
  if (v && typeof v === 'object' && 'host' in v && 'port' in v) return `${(v as { host: string }).host}:${(v as { port: number }).port}`;
  return String(v);
}

function defaultOf(s: Setting): string {
  if (typeof s.default !== 'function') return show(s.default) === undefined ? '' : `\`${show(s.default)}\``;
  const per = (m: Mode) => show((s.default as (mode: Mode) => unknown)(m));
  const dev = per('dev');
  const serve = per('serve');
  if (dev === serve) return dev === undefined ? '' : `\`${dev}\``;
  return [dev === undefined ? 'unset (dev)' : `\`${dev}\` (dev)`, serve === undefined ? 'unset (serve)' : `\`${serve}\` (serve)`].join(', ');
}

/**
 * The doc split at its `@default …` note: the default column comes from the value itself, or from
 * the note when the default is computed elsewhere (e.g. "the primary"); prose after a `;` stays.
 */
function split(doc: string): { meaning: string; note?: string } {
  const m = /\s*@default\s+([^;]*)(?:;\s*(.*))?$/s.exec(doc);
  if (!m) return { meaning: doc };
  const rest = m[2] ? ` ${m[2][0]!.toUpperCase()}${m[2].slice(1)}` : '';
  return { meaning: doc.slice(0, m.index) + rest, note: m[1]!.trim() };
}
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function table(group: SettingGroup): string {
  const rows = (Object.entries(SETTINGS) as [SettingName, Setting][])
    .filter(([name]) => settingGroup(name) === group)
    .map(([name, s]) => {
      const { meaning, note } = split(s.doc);
      return `| \`${name}\` | ${cell(defaultOf(s) || note || '')} | ${cell(meaning)} |`;
    });
  return ['| setting | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

export function render(readme: string): string {
  let out = readme;
  for (const group of ['gateway', 'access', 'kms'] as const) {
    const re = new RegExp(`(<!-- settings:${group} -->\\n)[\\s\\S]*?(\\n<!-- /settings:${group} -->)`);
    if (!re.test(out)) throw new Error(`README.md has no <!-- settings:${group} --> … <!-- /settings:${group} --> block`);
    out = out.replace(re, (_m, a: string, b: string) => `${a}${table(group)}${b}`);
  }
  return out;
}

if (require.main === module) {
  const current = readFileSync(README, 'utf8');
  const next = render(current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      console.error('readme-settings: README.md configuration tables differ from src/config/settings.ts. Run `npm run docs` and commit.');
      process.exit(1);
    }
    console.log('readme-settings: README.md configuration tables match src/config/settings.ts');
  } else if (next !== current) {
    writeFileSync(README, next);
    console.log('readme-settings: README.md updated');
  }
}
