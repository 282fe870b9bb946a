// Where a citation's quote sits inside its slide's full text.
//
// A quote is one or more sentences of the slide joined by single spaces; the sentences
// are verbatim, but they need not be adjacent in the slide, and the slide's white space
// (line breaks between sections) may differ from the quote's. So the quote is matched
// word by word: the longest run of its words found in the slide (white space
// normalised, whole words only) becomes one highlighted range, then the next run, and
// so on. Runs shorter than MIN_RUN_WORDS are not highlighted (a lone "the" would match
// anywhere) and make the result incomplete, which the page then says.

const MIN_RUN_WORDS = 3;
const WORD_CHAR = /[\p{L}\p{N}_]/u;

/** The text with every run of white space as one space, and where each character came from. */
export function collapseSpace(text) {
  const chars = [];
  const origins = [];
  let inSpace = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (/\s/u.test(ch)) {
      if (!inSpace) {
        chars.push(" ");
        origins.push(i);
      }
      inSpace = true;
    } else {
      chars.push(ch);
      origins.push(i);
      inSpace = false;
    }
  }
  return { flat: chars.join(""), origins };
}

function isWordChar(ch) {
  return ch !== undefined && WORD_CHAR.test(ch);
}

/** Index of `needle` in `hay` at or after `from`, starting and ending on word boundaries; -1 if none. */
function indexOfWords(hay, needle, from) {
  let at = hay.indexOf(needle, from);
  while (at >= 0) {
    const end = at + needle.length;
    const startsClean = !isWordChar(needle[0]) || !isWordChar(hay[at - 1]);
    const endsClean = !isWordChar(needle[needle.length - 1]) || !isWordChar(hay[end]);
    if (startsClean && endsClean) return at;
    at = hay.indexOf(needle, at + 1);
  }
  return -1;
}

/**
 * Ranges `[start, end)` of `text` that the quote's sentences occupy, in order.
 * @returns {{ranges: Array<[number, number]>, complete: boolean}}
 */
export function locateQuote(text, quote) {
  const words = quote.split(/\s+/u).filter(Boolean);
  if (!text || words.length === 0) return { ranges: [], complete: false };
  const { flat, origins } = collapseSpace(text);
  const found = [];
  let complete = true;
  let from = 0;
  let i = 0;
  while (i < words.length) {
    // Longest run words[i..j) present anywhere; presence only shrinks as j grows, so bisect.
    let lo = i;
    let hi = words.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (indexOfWords(flat, words.slice(i, mid).join(" "), 0) >= 0) lo = mid;
      else hi = mid - 1;
    }
    const run = lo - i;
    if (run === 0 || (run < MIN_RUN_WORDS && run < words.length)) {
      complete = false;
      i += 1; // this word is not in the slide (or only in too short a run): try from the next
      continue;
    }
    const needle = words.slice(i, lo).join(" ");
    let at = indexOfWords(flat, needle, from); // prefer the occurrence after the previous run
    if (at < 0) at = indexOfWords(flat, needle, 0);
    const end = at + needle.length;
    found.push([origins[at], origins[end - 1] + 1]);
    from = end;
    i = lo;
  }
  return { ranges: mergeRanges(found), complete };
}

function mergeRanges(ranges) {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged = [];
  for (const [start, end] of sorted) {
    const last = merged[merged.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}
