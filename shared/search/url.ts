// A URL as a person reads it: the crawler stores each URL as the web sends it, every letter
// outside ASCII percent-encoded (http://host/%D0%A1%D0%BE%D0%BA%D0%B5%D1%82), and a person
// wants to see what a browser's address bar shows (http://host/Сокет). The stored URL stays the
// real one: it is what a link's href, --json and the /page lookup use; this is only for the text
// shown beside it.
//
// What is decoded, as Chromium's address bar does it (url_formatter, UnescapeRule::NORMAL):
//   - a run of escapes that is well-formed UTF-8 for a letter outside ASCII, unless the letter
//     is one that hides or disguises what the URL says (below);
//   - an ASCII letter, digit, "-", "_" or "~": RFC 3986 says the escape and the letter mean the
//     same.
// What stays encoded: every other ASCII escape, since decoding it could change what the URL
// means or where it ends: %2F (a "/" inside a segment), %3F "?", %23 "#", %25 "%" (decoded, it
// would start a new escape), %26 "&" and %3D "=" in a query, %2E (a "." that would make "..");
// %20 too, as Chromium keeps it (Firefox shows a lone space decoded): in a terminal a URL with a
// space in it no longer selects or copies as one word. Bytes that are not well-formed UTF-8
// (a lone %D0, an overlong %C0%AF, a surrogate %ED%A0%80) stay as they are; so do letters that
// a reader could be fooled by, the ones Firefox's losslessDecodeURI keeps encoded: controls,
// format characters (bidi overrides such as U+202E, zero-width spaces, the BOM, soft hyphen),
// every kind of space and line separator, private-use and unassigned code points, and the
// invisible fillers and variation selectors that render as nothing. Firefox decodes ZWJ and
// ZWNJ, which Persian words and emoji sequences use; they stay encoded here, since between two
// Latin letters they are invisible, and two URLs that differ only by one would look the same.
//
// Left out: the host. An IDN host is stored as punycode (xn--...), and showing it as Unicode
// safely takes a browser's whole spoofing policy (mixed scripts, confusable letters), not a table.

/** The URL with its percent-encoded non-ASCII letters shown as letters, for a person to read. */
export function displayUrl(url: string): string {
  if (!url.includes("%")) return url;
  return url.replace(/(?:%[0-9A-Fa-f]{2})+/g, decodeRun);
}

// A run of escapes: each byte that starts a letter worth showing becomes that letter; every
// other byte keeps its escape exactly as written (its case too).
function decodeRun(run: string): string {
  const bytes = Buffer.from(run.replaceAll("%", ""), "hex");
  let shown = "";
  for (let i = 0; i < bytes.length;) {
    const length = sequenceLength(bytes, i);
    const letter = length === 0 ? "" : bytes.toString("utf8", i, i + length);
    if (length === 1 ? UNRESERVED.test(letter) : length > 1 && !HIDDEN.test(letter)) {
      shown += letter;
      i += length;
    } else {
      shown += run.slice(3 * i, 3 * i + 3);
      i += 1;
    }
  }
  return shown;
}

// The length of the well-formed UTF-8 sequence at bytes[i], or 0 if none starts there (the
// Unicode Standard's table 3-7: no overlong forms, no surrogates, nothing past U+10FFFF).
function sequenceLength(bytes: Buffer, i: number): number {
  const lead = bytes[i]!;
  if (lead < 0x80) return 1;
  let length: number;
  let low = 0x80; // the range of the second byte; the others are always 80..BF
  let high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) low = 0xa0;
    if (lead === 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) low = 0x90;
    if (lead === 0xf4) high = 0x8f;
  } else return 0;
  if (i + length > bytes.length) return 0;
  if (bytes[i + 1]! < low || bytes[i + 1]! > high) return 0;
  for (let j = i + 2; j < i + length; j++) if ((bytes[j]! & 0xc0) !== 0x80) return 0;
  return length;
}

const UNRESERVED = /^[A-Za-z0-9_~-]$/;

// Controls, format characters, separators, private use, unassigned; and
// the letters and marks that render as nothing: combining grapheme joiner, Hangul fillers,
// Khmer inherent vowels, Mongolian variation selectors, the blank braille pattern, variation
// selectors, the object replacement and replacement characters.
const HIDDEN =
  /[\p{Cc}\p{Cf}\p{Z}\p{Co}\p{Cn}\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2800\u3164\ufe00-\ufe0f\uffa0\ufffc\ufffd\u{e0100}-\u{e01ef}]/u;
