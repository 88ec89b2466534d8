// Number formats in the browser: every explorable's arithmetic, rounded the way torch rounds it on the CPU.
//
// JavaScript computes in float64. roundTo(format, x) rounds a double to float16, bfloat16 (exact IEEE
// round-to-nearest-even, subnormals included) or float32 (Math.fround); op(format, x) is one torch operation's
// result: half formats compute in float32, then round. Tested once against torch, value by value
// (tests/test_explorables.py, test_shared_rounding_and_sum_match_torch).

export const FORMATS = {
  float16: { mantissaBits: 10, minExponent: -14, max: 65504 },
  bfloat16: { mantissaBits: 7, minExponent: -126, max: 3.3895313892515355e38 },
  float32: { mantissaBits: 23, minExponent: -126, max: 3.4028234663852886e38 },
  float64: { mantissaBits: 52, minExponent: -1022, max: Number.MAX_VALUE },
};

function roundHalfEven(v) {
  const floor = Math.floor(v);
  const diff = v - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

// Round a double to the nearest value of a binary format (IEEE round-to-nearest-even, with subnormals).
export function roundTo(format, x) {
  if (format === "float64" || !Number.isFinite(x) || x === 0) return x;
  if (format === "float32") return Math.fround(x);
  const { mantissaBits, minExponent, max } = FORMATS[format];
  let exponent = Math.floor(Math.log2(Math.abs(x)));
  if (2 ** exponent > Math.abs(x)) exponent -= 1;
  if (2 ** (exponent + 1) <= Math.abs(x)) exponent += 1;
  const ulp = 2 ** (Math.max(exponent, minExponent) - mantissaBits);
  const rounded = roundHalfEven(x / ulp) * ulp;
  // Past max, IEEE rounds to inf only from max + ulp/2 on; roundHalfEven already put those on the next power.
  if (Math.abs(rounded) > max) return rounded > 0 ? Infinity : -Infinity;
  return rounded === 0 ? (x < 0 ? -0 : 0) : rounded;
}

// One operation's result as torch gives it: half formats compute in float32, then round.
export function op(format, value) {
  if (format === "float16" || format === "bfloat16") return roundTo(format, Math.fround(value));
  return roundTo(format, value);
}

// A sum as torch's CPU reduction does it for fewer than 8 values (the explorables' rows and batches): four
// accumulators take the values of each full group of four in turn, the rest go to the first, and the four are
// added left to right at the end. Half formats accumulate in float32. (Checked against torch.sum in
// tests/test_explorables.py; longer sums are vectorised differently.)
export function sum(format, values) {
  const add = format === "float64" ? (a, b) => a + b : (a, b) => Math.fround(a + b);
  const acc = [0, 0, 0, 0];
  const full = values.length - (values.length % 4);
  values.forEach((v, i) => {
    const k = i < full ? i % 4 : 0;
    acc[k] = add(acc[k], v);
  });
  return op(format, add(add(add(acc[0], acc[1]), acc[2]), acc[3]));
}

// The spacing of the format's values at x (the ulp of |x|), as a double.
export function ulpOf(format, x) {
  const { mantissaBits, minExponent } = FORMATS[format];
  const magnitude = Math.abs(x);
  const exponent = magnitude === 0 ? minExponent : Math.floor(Math.log2(magnitude));
  return 2 ** (Math.max(exponent, minExponent) - mantissaBits);
}

export function nextUp(format, x) {
  if (format === "float64") {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, x);
    view.setBigUint64(0, view.getBigUint64(0) + 1n);
    return view.getFloat64(0);
  }
  return x + ulpOf(format, x);
}

// The first value whose exp is inf in this format, by bisection over the format's values.
export function expOverflowThreshold(format) {
  let finite = 0;
  let infinite = FORMATS[format].max;
  for (;;) {
    const middle = roundTo(format, (finite + infinite) / 2);
    if (middle === finite || middle === infinite) break;
    if (op(format, Math.exp(middle)) === Infinity) infinite = middle;
    else finite = middle;
  }
  const next = nextUp(format, finite); // bisection stalls one value apart at most
  return op(format, Math.exp(next)) === Infinity ? next : infinite;
}
