/**
 * Errors of the emulator. `KmsApiError` is what the emulated service answers (code + HTTP status,
 * rendered as the POP error body); `SeedError` names the bad field of a seed document.
 * Messages never carry secret values, AccessKey secrets or STS tokens.
 */

/** An error answer of the emulated KMS/STS API. */
export class KmsApiError extends Error {
  constructor(
    readonly code: string,
    readonly httpStatus: number,
    message: string,
  ) {
    super(message);
  }
  override get name(): string {
    return 'KmsApiError';
  }
}

/** A seed document is invalid. `path` is the field, e.g. `secrets[2].versions[0].text`. */
export class SeedError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
  override get name(): string {
    return 'SeedError';
  }
}

/** Standard messages for codes a test may inject without giving one. */
export const DEFAULT_MESSAGES: Readonly<Record<string, string>> = {
  InternalFailure: 'Internal Failure.',
  ServiceUnavailableTemporary: 'Service Unavailable Temporary.',
  ServiceUnavailable: 'The request has failed due to a temporary failure of the server.',
  'Rejected.Throttling': 'QPS Limit Exceeded',
};

export const notFound = (): KmsApiError => new KmsApiError('Forbidden.ResourceNotFound', 404, 'The resource is not found.');

/** `Missing<Param>`, the POP gateway's form for an absent mandatory parameter. */
export const missing = (param: string): KmsApiError => new KmsApiError(`Missing${param}`, 400, `${param} is mandatory for this action.`);

export const invalidParameter = (param: string, why: string): KmsApiError =>
  new KmsApiError('InvalidParameter', 400, `The specified parameter "${param}" is not valid: ${why}`);

export const resourceExists = (what: string): KmsApiError => new KmsApiError('Rejected.ResourceExist', 409, `The resource already exists: ${what}.`);

/** Secret pending deletion. 409, as the KMS CreateSecret error table lists it. */
export const inDeleteWindow = (): KmsApiError =>
  new KmsApiError('Rejected.ResourceInDeleteWindow', 409, 'The resource is pending deletion (in its recovery window).');

export const unsupported = (why: string): KmsApiError => new KmsApiError('Rejected.UnsupportedOperation', 400, why);

export const throttled = (): KmsApiError => new KmsApiError('Rejected.Throttling', 429, 'QPS Limit Exceeded');
