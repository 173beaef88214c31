// The mini-wiki's content: articles, categories and the links between articles, all drawn from
// one seeded PRNG, so the same seed and article count always give the same site, byte for byte.
// Nothing here knows about HTTP or HTML; pages.ts renders it.
import { ASPECTS, CATEGORIES, ENGLISH, RUSSIAN, TOPICS } from "./words.ts";
import type { Template, Topic } from "./words.ts";

export interface Category {
  slug: string;
  title: string;
  /** Sorted by slug. */
  articles: Article[];
}

export interface Article {
  slug: string;
  /** English and Russian in one line: "Sockets: basics — Сокеты: основы". */
  title: string;
  category: Category;
  /** Paragraphs, each a list of sentences (plain text, not yet HTML-escaped). */
  english: string[][];
  russian: string[][];
  related: RelatedLink[];
}

/**
 * How an article's "See also" link is written. Each resolves to /wiki/<slug> from /wiki/<page>,
 * the way a crawler meets them on real sites: "other", "./other", "../wiki/other",
 * "/wiki/other", "http://<host>/wiki/other" and "/wiki/other#see-also".
 */
export type LinkForm = "bare" | "dot" | "dot-dot" | "root" | "absolute" | "fragment";
export const LINK_FORMS: LinkForm[] = ["bare", "dot", "dot-dot", "root", "absolute", "fragment"];

/** What a link to an article needs of it. */
export type ArticleRef = Pick<Article, "slug" | "title">;

export interface RelatedLink {
  article: ArticleRef;
  form: LinkForm;
}

export interface Wiki {
  articles: Article[];
  categories: Category[];
  /** A few articles for the front page. */
  featured: Article[];
  bySlug: Map<string, Article>;
}

const RELATED_PER_ARTICLE = 4;
const FEATURED = 10;

export function buildWiki(articleCount: number, seed: number): Wiki {
  if (!Number.isInteger(articleCount) || articleCount < 1) {
    throw new RangeError(`a wiki needs at least one article, got ${articleCount}`);
  }
  const random = new Random(seed);
  const categories = new Map<string, Category>(
    CATEGORIES.map(({ slug, title }) => [slug, { slug, title, articles: [] }]),
  );

  // Every topic with every aspect, shuffled, so a small site still covers many topics. A site
  // with more articles than combinations reuses them with a suffix: "epoll-basics-2".
  const combinations = random.shuffle(
    TOPICS.flatMap((topic) => ASPECTS.map((aspect) => ({ topic, aspect }))),
  );
  const articles: Article[] = [];
  for (let i = 0; i < articleCount; i++) {
    // Both `!`s are safe: the index is taken modulo the length, and words.ts gives every topic
    // one of CATEGORIES.
    const { topic, aspect } = combinations[i % combinations.length]!;
    const category = categories.get(topic.category)!;
    const round = Math.floor(i / combinations.length);
    const suffix = round === 0 ? "" : `-${round + 1}`;
    const article: Article = {
      slug: `${topic.slug}-${aspect.slug}${suffix}`,
      title:
        `${topic.title[0]}: ${aspect.en} — ${topic.title[1]}: ${aspect.ru}` +
        (round === 0 ? "" : ` (${round + 1})`),
      category,
      english: paragraphs(random, topic, ENGLISH),
      russian: paragraphs(random, topic, RUSSIAN),
      related: [],
    };
    articles.push(article);
    category.articles.push(article);
  }

  for (const article of articles) {
    const related = new Set<Article>();
    while (related.size < Math.min(RELATED_PER_ARTICLE, articles.length - 1)) {
      const other = random.pick(articles);
      if (other !== article) related.add(other);
    }
    article.related = [...related].map((other) => ({
      article: other,
      form: random.pick(LINK_FORMS),
    }));
  }
  // By slug, not by title: localeCompare's order depends on the ICU version, and the pages must
  // be the same bytes on every machine.
  for (const category of categories.values()) {
    category.articles.sort((a, b) => (a.slug < b.slug ? -1 : 1));
  }
  return {
    articles,
    categories: [...categories.values()],
    featured: articles.slice(0, FEATURED),
    bySlug: new Map(articles.map((article) => [article.slug, article])),
  };
}

// Two or three paragraphs of two to four sentences. Most sentences are about the article's own
// topic, which is what makes it rank first for that topic's words. Each template is used at most
// once per article (there are more than 3 x 4 of them), so no sentence repeats.
export function paragraphs(random: Random, topic: Topic, templates: Template[]): string[][] {
  const unused = random.shuffle(templates);
  return Array.from({ length: random.int(2, 3) }, () =>
    unused.splice(0, random.int(2, 4)).map((template) => {
      const a = random.next() < 0.7 ? topic : random.pick(TOPICS);
      const b = random.pick(TOPICS.filter((other) => other !== a));
      return template(a, b);
    }),
  );
}

// mulberry32: a tiny PRNG with a 32-bit state, good enough for made-up text. Math.random cannot be
// seeded, and a seed is what makes two runs of the site serve the same bytes.
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer from min to max, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(0, items.length - 1)];
    if (item === undefined) throw new RangeError("cannot pick from an empty list");
    return item;
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [copy[i], copy[j]] = [copy[j]!, copy[i]!]; // i and j are both < copy.length
    }
    return copy;
  }
}
