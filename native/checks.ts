// Argument checks of the TypeScript layer, worded like the native module's own (src/args.cc) and
// with Node's codes, so a wrong argument reads the same whichever layer catches it:
//   sendAll(): argument 'data' must be a Uint8Array or Buffer, got the number 42
// Internal: index.ts does not export it.

/** How a wrong value is named in a message, as src/args.cc names it. */
export function describe(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  if (Array.isArray(value)) return "an array";
  if (ArrayBuffer.isView(value)) return "a typed array";
  if (typeof value === "number") return `the number ${value}`;
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`; // string, boolean, bigint, symbol, function
}

/** A TypeError with Node's code for a wrong argument type. */
export function typeError(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: "ERR_INVALID_ARG_TYPE" });
}

/** TypeError: fn(): argument 'name' must be wanted, got what it got. */
export function argumentTypeError(
  fn: string,
  name: string,
  wanted: string,
  value: unknown,
): TypeError {
  return typeError(`${fn}(): argument '${name}' must be ${wanted}, got ${describe(value)}`);
}

/** RangeError: fn(): argument 'name' ..., with Node's code for a value out of range. */
export function argumentRangeError(fn: string, name: string, message: string): RangeError {
  return Object.assign(new RangeError(`${fn}(): argument '${name}' ${message}`), {
    code: "ERR_OUT_OF_RANGE",
  });
}
