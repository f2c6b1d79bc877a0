// Signed 64-bit integers as Redis keeps them in string values (INCR and friends, EXPIRE's amounts):
// decimal text, parsed by Redis's rules, with arithmetic in bigint so nothing rounds.

export const int64Max = 2n ** 63n - 1n;
export const int64Min = -(2n ** 63n);

/**
 * Redis's string2ll: an optional '-', then digits without leading zeros ("0" alone is fine), no
 * blanks or '+', within the signed 64-bit range. Returns undefined otherwise.
 */
export function parseInt64(bytes: Uint8Array): bigint | undefined {
  const length = bytes.length;
  if (length === 0 || length > 20) return undefined;
  let index = 0;
  const negative = bytes[0] === 0x2d;
  if (negative) {
    index = 1;
    if (length === 1) return undefined;
  }
  if (bytes[index] === 0x30) return length === 1 ? 0n : undefined;
  let small = 0;
  for (let i = index; i < length; i++) {
    const byte = bytes[i] as number;
    if (byte < 0x30 || byte > 0x39) return undefined;
    if (i - index < 15) small = small * 10 + (byte - 0x30);
  }
  const digits = length - index;
  if (digits <= 15) return BigInt(negative ? -small : small);
  const value = BigInt(String.fromCharCode(...bytes));
  return value < int64Min || value > int64Max ? undefined : value;
}
