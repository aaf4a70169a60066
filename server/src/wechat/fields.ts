export type FieldErrorCode = 'MISSING_FIELD' | 'BAD_FIELD';

/** A wire field that is missing or not what WeChat's docs say it is. */
export class FieldError extends Error {
  readonly code: FieldErrorCode;
  readonly field: string;
  constructor(code: FieldErrorCode, field: string, message: string) {
    super(message);
    this.name = 'FieldError';
    this.code = code;
    this.field = field;
  }
}

const INT_RE = /^-?\d+$/;

/** Strict integer from a wire string: /^-?\d+$/ and a safe integer; anything else throws FieldError. */
export function parseIntField(value: string | undefined, field: string): number {
  if (value === undefined || value === '') {
    throw new FieldError('MISSING_FIELD', field, `${field} is missing`);
  }
  if (typeof value !== 'string' || !INT_RE.test(value)) {
    throw new FieldError('BAD_FIELD', field, `${field} is not an integer`);
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new FieldError('BAD_FIELD', field, `${field} is out of range`);
  }
  return n === 0 ? 0 : n;
}

/** WeChat's out_trade_no: 1 to 32 of [0-9A-Za-z_-|*@]. */
export const OUT_TRADE_NO_RE = /^[0-9A-Za-z_\-|*@]{1,32}$/;
