/**
 * A parser for the `secretsmanager.properties` files the official Alibaba secret clients read,
 * so teams migrating from them keep their files. Supports `key=value` and `key: value`, `#` and
 * `!` comments, and values that contain `=` (the Go v2 client silently drops those lines).
 */
export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(line);
    if (!m) continue;
    out[m[1]!] = m[2]!;
  }
  return out;
}
