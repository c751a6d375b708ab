/**
 * Caller identities. Every call has exactly one identity string, taken from the client
 * certificate (this module), a verified service-account token (`jwt.ts`) or, where neither
 * exists, the peer address. The policy (`policy.ts`), the audit log and the per-caller limits
 * all key on `Identity.id`.
 */
import type { PeerCertificate } from 'node:tls';
import { UnauthenticatedError } from '../errors';

/**
 * Who a call is for.
 * - `x509`: from a verified client certificate (SPIFFE ID, else first DNS SAN, else subject CN);
 * - `jwt`: the `sub` of a verified Kubernetes service-account token
 *   (`system:serviceaccount:<namespace>:<name>`);
 * - `peer`: no credential, keyed by peer address (limits only: never granted by a policy);
 * - `anonymous`: no credential and no address.
 */
export interface Identity {
  /** The string the policy, the audit log and the limits see. */
  id: string;
  kind: 'x509' | 'jwt' | 'peer' | 'anonymous';
}

/** `spiffe://<trust domain>/<path>`, per the SPIFFE ID spec: lowercase trust domain, no empty segment, no `.`/`..`, no query/fragment. */
const SPIFFE_ID = /^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
const DOT_SEGMENT = /\/\.\.?(\/|$)/;
/** SPIFFE IDs are at most 2048 bytes (X509-SVID spec). */
const MAX_SPIFFE_ID = 2048;
/** A host name: dot-separated labels of letters, digits, `-` and `_`; no wildcard. */
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/i;

/**
 * The identity in a client certificate: the SPIFFE ID from the URI SAN (`spiffe://...`), else the
 * first DNS SAN (lower-cased: DNS names are case-insensitive), else the subject CN. Call it only on
 * a certificate the TLS layer has verified against the client CA.
 *
 * @returns undefined when there is no certificate (`undefined` or Node's `{}` for "none
 *   presented") or it carries none of those names.
 * @throws UnauthenticatedError when the certificate is ambiguous or malformed: more than one
 *   SPIFFE URI SAN (the spec requires exactly one), a `spiffe:` URI that is not a valid SPIFFE ID,
 *   a first DNS SAN that is not a host name (a wildcard, a comma, ...), more than one subject CN,
 *   or a SAN list that cannot be parsed. Non-SPIFFE URI SANs are ignored.
 */
export function identityFromCertificate(cert: PeerCertificate | undefined): string | undefined {
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const sans = cert.subjectaltname ? parseSubjectAltName(cert.subjectaltname) : [];

  const spiffe = sans.filter((s) => s.type === 'URI' && /^spiffe:/i.test(s.value));
  if (spiffe.length > 1) throw new UnauthenticatedError('client certificate has more than one SPIFFE ID');
  if (spiffe.length === 1) {
    const id = spiffe[0]!.value;
    if (id.length > MAX_SPIFFE_ID || !SPIFFE_ID.test(id) || DOT_SEGMENT.test(id)) {
      throw new UnauthenticatedError('client certificate has an invalid SPIFFE ID');
    }
    return id;
  }

  const dns = sans.find((s) => s.type === 'DNS');
  if (dns) {
    if (!DNS_NAME.test(dns.value)) throw new UnauthenticatedError('client certificate has an invalid DNS name');
    return dns.value.toLowerCase();
  }

  // Node gives an array when the subject repeats an attribute; the types say string.
  const cn: unknown = cert.subject?.CN;
  if (Array.isArray(cn)) throw new UnauthenticatedError('client certificate has more than one subject CN');
  return typeof cn === 'string' && cn !== '' ? cn : undefined;
}

/** One entry of Node's `subjectaltname`, e.g. `{ type: 'DNS', value: 'a.example' }`. */
export interface SubjectAltName {
  /** Node's label: `DNS`, `URI`, `IP Address`, `email`, `DirName`, `othername`, `Registered ID`. */
  type: string;
  value: string;
}

/**
 * Parses Node's `subjectaltname` string: entries `Type:value` joined by `, `. Since Node 17 (and
 * the 2022 security releases: CVE-2021-44532) a value containing `,`, `"`, `\`, `'` or a control
 * character is written as a JSON string, `URI:"spiffe://a/b,c"`, so a comma inside a name cannot
 * forge a second entry. A safe (unquoted) value never contains a comma.
 *
 * @throws UnauthenticatedError on a string that does not follow that format.
 */
export function parseSubjectAltName(text: string): SubjectAltName[] {
  const out: SubjectAltName[] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) throw badSan();
    const type = text.slice(i, colon);
    i = colon + 1;
    let value: string;
    if (text[i] === '"') {
      const end = endOfJsonString(text, i);
      try {
        value = JSON.parse(text.slice(i, end)) as string;
      } catch {
        throw badSan();
      }
      i = end;
    } else {
      const comma = text.indexOf(',', i);
      const end = comma < 0 ? text.length : comma;
      value = text.slice(i, end);
      i = end;
    }
    out.push({ type, value });
    if (i < text.length) {
      if (text.slice(i, i + 2) !== ', ') throw badSan();
      i += 2;
    }
  }
  return out;
}

/** The index just past the closing quote of the JSON string starting at `start`. */
function endOfJsonString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i + 1;
  }
  throw badSan();
}

const badSan = () => new UnauthenticatedError('client certificate has an unparsable subject alternative name');
