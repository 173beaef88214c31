// The mini-wiki at the lecture's scale: a million articles ("список ссылок, который состоит из
// 1,000,000 документов"), none of them kept. wiki.ts builds every article up front, from one PRNG
// run through them all in order, which is fine for a few thousand and would be a gigabyte here.
// This one makes an article when it is asked for, from the seed and the article's number alone:
// O(1) time per page, nothing stored per page, the same bytes on every request.
//
//   article i     its topic and aspect are the shuffled combinations' i mod 320th (as in wiki.ts),
//                 its slug "<topic>-<aspect>" with "-<round>" from the second round on, so that
//                 the slug gives i back; its text comes from a PRNG seeded with (seed, i)
//   links         a tree keeps the site in one piece and shallow: the articles are laid out in a
//                 4-ary tree in a shuffled order (an affine permutation of 0..N-1, so that both
//                 directions are arithmetic), and each links to its four children in the tree;
//                 two more links go to articles picked at random, as real sites link, so that a
//                 crawler meets most URLs more than once. From the front page, which features the
//                 tree's root, every article is at most log4(N) + 1 links away: 11 for a million.
//   categories    each lists its first 50 articles and says how many it has
//
// The pages differ from the small wiki's in one way: no article links its history views, so that
// a million articles are a million pages (pages.ts). Small sites (up to EAGER_MAX articles) are
// still built by wiki.ts, byte for byte as before, since the lessons' snapshots show them.
import type { Article, ArticleRef, Category, LinkForm, RelatedLink } from "./wiki.ts";
import { LINK_FORMS, Random, paragraphs } from "./wiki.ts";
import { ASPECTS, CATEGORIES, ENGLISH, RUSSIAN, TOPICS, type Aspect, type Topic } from "./words.ts";

/** Sites of up to this many articles are built up front (wiki.ts); larger ones lazily, here. */
export const EAGER_MAX = 10_000;
/** The permutation's arithmetic stays exact below 2^53: N^2 must fit. */
export const LAZY_MAX = 10_000_000;

const CHILDREN = 4;
const RANDOM_LINKS = 2;
const CATEGORY_LIST = 50;
const FEATURED = 10;

interface Combination {
  topic: Topic;
  aspect: Aspect;
}

export class LazyWiki {
  readonly size: number;
  readonly seed: number;
  /** Every category, with how many articles it has. */
  readonly categories: (Category & { count: number })[];
  readonly #combinations: Combination[];
  readonly #byPrefix = new Map<string, number>(); // "<topic>-<aspect>" -> its place in the order
  readonly #categories = new Map<string, Category & { count: number }>();
  // The tree order: article = (a * place + b) mod N, and back with a's inverse.
  readonly #a: number;
  readonly #b: number;
  readonly #aInverse: number;

  constructor(size: number, seed: number) {
    if (!Number.isInteger(size) || size < 1 || size > LAZY_MAX) {
      throw new RangeError(`a lazy wiki has 1 to ${LAZY_MAX} articles, got ${size}`);
    }
    this.size = size;
    this.seed = seed;
    const random = new Random(seed);
    this.#combinations = random.shuffle(
      TOPICS.flatMap((topic) => ASPECTS.map((aspect) => ({ topic, aspect }))),
    );
    this.#combinations.forEach(({ topic, aspect }, place) =>
      this.#byPrefix.set(`${topic.slug}-${aspect.slug}`, place),
    );
    this.categories = CATEGORIES.map(({ slug, title }) => ({
      slug,
      title,
      articles: [],
      count: 0,
    }));
    for (const category of this.categories) this.#categories.set(category.slug, category);
    // Articles i, i + 320, i + 640... share a combination, and so a category.
    const rounds = Math.floor(size / this.#combinations.length);
    this.#combinations.forEach(({ topic }, place) => {
      const extra = place < size % this.#combinations.length ? 1 : 0;
      this.#categories.get(topic.category)!.count += rounds + extra;
    });
    // Any a coprime to N makes p -> a p + b a permutation; one near N / golden ratio scatters
    // neighbours in the tree far apart in the numbering.
    let a = Math.max(1, Math.floor(size * 0.6180339887)) % size || 1;
    while (gcd(a, size) !== 1) a++;
    this.#a = a % size;
    this.#b = mix(seed, 0x7fffffff) % size;
    this.#aInverse = size === 1 ? 0 : modularInverse(this.#a, size);
  }

  /** The article with this slug, or null if there is none. */
  article(slug: string): Article | null {
    const i = this.number(slug);
    if (i === -1) return null;
    const { topic } = this.#combination(i);
    const random = new Random(mix(this.seed, i));
    const article: Article = {
      ...this.ref(i),
      category: this.#categories.get(topic.category)!,
      english: paragraphs(random, topic, ENGLISH),
      russian: paragraphs(random, topic, RUSSIAN),
      related: [],
    };
    article.related = this.links(i).map((other): RelatedLink => ({
      article: this.ref(other),
      form: random.pick<LinkForm>(LINK_FORMS),
    }));
    return article;
  }

  /** Article i's slug and title. */
  ref(i: number): ArticleRef {
    const { topic, aspect } = this.#combination(i);
    const round = Math.floor(i / this.#combinations.length);
    return {
      slug: `${topic.slug}-${aspect.slug}${round === 0 ? "" : `-${round + 1}`}`,
      title:
        `${topic.title[0]}: ${aspect.en} — ${topic.title[1]}: ${aspect.ru}` +
        (round === 0 ? "" : ` (${round + 1})`),
    };
  }

  /** The tree's root and the articles nearest it. */
  featured(): ArticleRef[] {
    return Array.from({ length: Math.min(FEATURED, this.size) }, (_, place) =>
      this.ref(this.#at(place)),
    );
  }

  /** A category's first articles (by number) and its title; null if there is no such category. */
  category(slug: string): { title: string; articles: ArticleRef[]; count: number } | null {
    const category = this.#categories.get(slug);
    if (category === undefined) return null;
    const articles: ArticleRef[] = [];
    // Each round of 320 articles has a few of each category's combinations: a few rounds suffice.
    for (let i = 0; i < this.size && articles.length < CATEGORY_LIST; i++) {
      if (this.#combination(i).topic.category === slug) articles.push(this.ref(i));
    }
    return { title: category.title, articles, count: category.count };
  }

  #combination(i: number): Combination {
    return this.#combinations[i % this.#combinations.length]!;
  }

  /** The article number of a slug, or -1: "epoll-basics" is the round 0 one, "epoll-basics-3" round 2. */
  number(slug: string): number {
    const match = /^(.+?)(?:-([1-9]\d{0,7}))?$/.exec(slug);
    const place = match === null ? undefined : this.#byPrefix.get(match[1]!);
    if (place === undefined) return -1;
    const round = match![2] === undefined ? 0 : Number(match![2]) - 1;
    if (match![2] !== undefined && round === 0) return -1; // "-1": a second name for round 0
    const i = round * this.#combinations.length + place;
    return i < this.size ? i : -1;
  }

  /** The numbers of the articles that article i links: its children in the tree, then two at random. */
  links(i: number): number[] {
    const place = this.#placeOf(i);
    const links: number[] = [];
    for (let child = place * CHILDREN + 1; child <= place * CHILDREN + CHILDREN; child++) {
      if (child < this.size) links.push(this.#at(child));
    }
    for (let k = 0; k < RANDOM_LINKS; k++) {
      const other = mix(this.seed ^ 0x5bd1e995, i * RANDOM_LINKS + k) % this.size;
      if (other !== i && !links.includes(other)) links.push(other);
    }
    return links;
  }

  /** The article at a place in the tree order. */
  #at(place: number): number {
    return (this.#a * place + this.#b) % this.size;
  }

  #placeOf(i: number): number {
    return (((i - this.#b + this.size) % this.size) * this.#aInverse) % this.size;
  }
}

/** A 32-bit hash of (seed, i): murmur3's finaliser over the two mixed together. */
function mix(seed: number, i: number): number {
  let h = (seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** x with a x = 1 (mod n), for a coprime to n (extended Euclid). */
function modularInverse(a: number, n: number): number {
  let [oldR, r] = [a, n];
  let [oldS, s] = [1, 0];
  while (r !== 0) {
    const q = Math.floor(oldR / r);
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return ((oldS % n) + n) % n;
}
