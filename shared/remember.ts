// A pure function's answers, remembered: for one called with the same argument again and again,
// such as a word's stem or a link's normal form. The memory is bounded: once it holds `max`
// answers it forgets them all at once, which is cruder than an LRU but costs nothing per hit, and
// the arguments that keep coming back are back in it soon after.
//
//   const stem = remembered((word: string) => english.stem(word), 100_000);

/** `compute`, remembering up to max answers. compute must never return undefined. */
export function remembered<Key, Answer>(
  compute: (key: Key) => Answer,
  max: number,
): (key: Key) => Answer {
  const answers = new Map<Key, Answer>();
  return (key) => {
    let answer = answers.get(key);
    if (answer === undefined) {
      answer = compute(key);
      if (answers.size >= max) answers.clear();
      answers.set(key, answer);
    }
    return answer;
  };
}
