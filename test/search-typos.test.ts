// WordList.near, which finds the indexed words one typo from a query's word by two binary
// searches (shared/search/typos.ts), against checking every word of the list: the same words,
// on random words over a small alphabet (so that many are one edit apart), with Cyrillic
// letters and a letter outside the BMP (two UTF-16 code units).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { WordList, editDistance, oneEditApart } from "../shared/search/typos.ts";

const test = suite("search-typos");

test("near finds exactly the words one edit away, as a scan of every word does", () => {
  const alphabet = ["a", "b", "c", "я", "ё", "😀"];
  let state = 2024;
  const random = (n: number) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
  const word = () => {
    let text = "";
    for (let length = 1 + random(7); length > 0; length--)
      text += alphabet[random(alphabet.length)];
    return text;
  };
  const words = [...new Set(Array.from({ length: 3000 }, word))];
  const list = new WordList(words);
  let found = 0;
  for (let i = 0; i < 500; i++) {
    const query = i % 2 === 0 ? word() : words[random(words.length)]!;
    const expected = words.filter((w) => w !== query && oneEditApart(query, w)).sort();
    const near = list.near(query).map((id) => words[id]!);
    assert.equal(near.sort(), expected, query);
    found += near.length;
  }
  assert.ok(found > 1000, `the lists should not be mostly empty: ${found}`);
});

test("oneEditApart: a deletion, an insertion, a substitution, a swap; not two", () => {
  for (const [a, b] of [
    ["epoll", "epol"],
    ["epoll", "epolll"],
    ["socket", "sokket"],
    ["sockets", "sokcets"],
    ["сокет", "сакет"],
  ]) {
    assert.ok(oneEditApart(a!, b!) && oneEditApart(b!, a!), `${a} ${b}`);
  }
  for (const [a, b] of [
    ["epoll", "eoplt"],
    ["socket", "sockets!!"],
    ["abc", "cab"],
  ]) {
    assert.not.ok(oneEditApart(a!, b!), `${a} ${b}`);
  }
});

test("editDistance: Damerau's, by letters, a swap one edit", () => {
  for (const [a, b, d] of [
    ["vacum", "vacuum", 1],
    ["vacum", "vacuuming", 4],
    ["sokcets", "sockets", 1],
    ["сакетами", "сокетами", 1],
    ["сакетами", "сокеты", 4],
    ["", "abc", 3],
    ["abc", "abc", 0],
    ["ca", "abc", 3], // optimal string alignment: no letter edited twice
    ["a😀b", "ab", 1],
  ] as const) {
    assert.is(editDistance(a, b), d, `${a} ${b}`);
    assert.is(editDistance(b, a), d, `${b} ${a}`);
  }
  for (const [a, b] of [
    ["epoll", "epolll"],
    ["sockets", "sokcets"],
    ["epoll", "eoplt"],
  ]) {
    assert.is(editDistance(a!, b!) <= 1, oneEditApart(a!, b!), `${a} ${b}`);
  }
});

test.run();
