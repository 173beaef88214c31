// judge: how well the search ranks on real documentation sites, as a person would judge it.
// Each site has natural queries whose right answer a person knows (chosen by reading the site, not
// by looking at what the search returns); the figures say where that page ranks: in the first
// place, the first 3, the first 10, and the mean reciprocal rank (1 for first, 1/2 for second, …,
// 0 past the tenth). A query may have more than one right page where the site itself has two
// ("regular expressions": the re module and the Regular Expression HOWTO); the best-ranked counts.
//
// The sites are Debian's documentation packages, served by any web server on localhost and
// crawled (examples/search/README.md, "Judged on real sites", says how):
//
//   pnpm run crawler -- --url http://127.0.0.1:8001/ --out /tmp/idx-python
//   pnpm exec tsx examples/search/judge.ts --site python --index /tmp/idx-python
//
// Run: tsx examples/search/judge.ts --site python|postgresql|django --index DIR [--misses]
import { parseArgs } from "node:util";
import { Index, SearchIndexError } from "@async-from-scratch/shared/search";

type Queries = [query: string, ...right: string[]][];

// Paths from the site's root. Python 3.11 (python3.11-doc, /usr/share/doc/python3.11/html).
const python: Queries = [
  ["json", "library/json.html"],
  ["asyncio event loop", "library/asyncio-eventloop.html"],
  ["socket timeout", "library/socket.html"],
  ["list comprehension", "tutorial/datastructures.html"],
  ["f-string", "reference/lexical_analysis.html", "tutorial/inputoutput.html"],
  ["dataclass", "library/dataclasses.html"],
  ["subprocess run", "library/subprocess.html"],
  ["regular expressions", "library/re.html", "howto/regex.html"],
  ["read csv file", "library/csv.html"],
  ["datetime format", "library/datetime.html"],
  ["virtual environment", "library/venv.html", "tutorial/venv.html"],
  ["sort a list", "howto/sorting.html"],
  ["unittest mock", "library/unittest.mock.html"],
  ["logging", "library/logging.html", "howto/logging.html"],
  ["command line arguments", "library/argparse.html", "howto/argparse.html"],
  ["thread pool", "library/concurrent.futures.html"],
  ["type hints", "library/typing.html"],
  ["reading and writing files", "tutorial/inputoutput.html"],
  ["exceptions try except", "tutorial/errors.html"],
  ["pathlib", "library/pathlib.html"],
  ["defaultdict", "library/collections.html"],
  ["random number", "library/random.html"],
  ["http server", "library/http.server.html"],
  ["sqlite", "library/sqlite3.html"],
  ["copy a file", "library/shutil.html"],
];

// PostgreSQL 15 (postgresql-doc-15, /usr/share/doc/postgresql-doc-15/html).
const postgresql: Queries = [
  ["create index", "sql-createindex.html"],
  ["vacuum", "sql-vacuum.html", "routine-vacuuming.html"],
  ["json functions", "functions-json.html"],
  ["window functions", "functions-window.html", "tutorial-window.html"],
  ["pg_dump", "app-pgdump.html"],
  ["create table", "sql-createtable.html"],
  ["alter table add column", "sql-altertable.html", "ddl-alter.html"],
  ["foreign key", "ddl-constraints.html", "tutorial-fk.html"],
  ["explain analyze", "sql-explain.html", "using-explain.html"],
  ["string functions", "functions-string.html"],
  ["date formatting", "functions-formatting.html"],
  ["transaction isolation", "transaction-iso.html"],
  ["pg_hba.conf", "auth-pg-hba-conf.html"],
  ["table partitioning", "ddl-partitioning.html"],
  ["full text search", "textsearch.html", "textsearch-intro.html"],
  ["with queries common table expressions", "queries-with.html"],
  ["insert on conflict", "sql-insert.html"],
  ["psql", "app-psql.html"],
  ["create function", "sql-createfunction.html"],
  ["create trigger", "sql-createtrigger.html"],
  ["gin index", "gin.html", "gin-intro.html"],
  ["arrays", "arrays.html"],
  ["pg_restore", "app-pgrestore.html"],
  ["max_connections", "runtime-config-connection.html"],
  ["logical replication", "logical-replication.html"],
];

// Django 3.2 (python-django-doc, /usr/share/doc/python-django-doc/html).
const django: Queries = [
  ["queryset filter", "topics/db/queries.html", "ref/models/querysets.html"],
  ["middleware", "topics/http/middleware.html", "ref/middleware.html"],
  ["csrf", "ref/csrf.html"],
  ["model field types", "ref/models/fields.html"],
  ["many to many relationship", "topics/db/examples/many_to_many.html"],
  ["send email", "topics/email.html"],
  ["file uploads", "topics/http/file-uploads.html"],
  ["pagination", "topics/pagination.html"],
  ["user authentication", "topics/auth/default.html", "topics/auth/index.html"],
  ["custom user model", "topics/auth/customizing.html"],
  ["migrations", "topics/migrations.html"],
  ["custom template tags", "howto/custom-template-tags.html"],
  ["url dispatcher", "topics/http/urls.html"],
  ["form validation", "ref/forms/validation.html"],
  ["model forms", "topics/forms/modelforms.html"],
  ["class-based views", "topics/class-based-views/index.html"],
  ["cache", "topics/cache.html"],
  ["static files", "howto/static-files/index.html"],
  ["signals", "topics/signals.html"],
  ["database transactions", "topics/db/transactions.html"],
  ["sessions", "topics/http/sessions.html"],
  ["aggregation", "topics/db/aggregation.html"],
  ["gunicorn", "howto/deployment/wsgi/gunicorn.html"],
  ["test client", "topics/testing/tools.html"],
  ["time zones", "topics/i18n/timezones.html"],
];

const SITES: Record<string, Queries> = { python, postgresql, django };

interface Judged {
  query: string;
  right: string[];
  /** 1-based rank of the best right page in the first 10; 0 if none is there. */
  rank: number;
  /** The paths of the first three hits. */
  top: string[];
}

function judge(index: Index, queries: Queries): Judged[] {
  return queries.map(([query, ...right]) => {
    const { hits } = index.search(query, { limit: 10, snippets: false });
    const paths = hits.map((hit) => new URL(hit.url).pathname.replace(/^\//, ""));
    const rank = paths.findIndex((path) => right.includes(path)) + 1;
    return { query, right, rank, top: paths.slice(0, 3) };
  });
}

function figures(judged: Judged[]) {
  const share = (n: number) => judged.filter((j) => j.rank > 0 && j.rank <= n).length;
  const mrr = judged.reduce((sum, j) => sum + (j.rank > 0 ? 1 / j.rank : 0), 0) / judged.length;
  return { queries: judged.length, top1: share(1), top3: share(3), top10: share(10), mrr };
}

// Its own few flags, and the clear errors every lesson gives (shared/lesson.ts): one line and the
// usage, never a stack trace. It is run with tsx, not pnpm run, so startLesson's usage would lie.
const usage =
  `usage: tsx examples/search/judge.ts --site ${Object.keys(SITES).join("|")} ` +
  "--index DIR [--misses]";
function fail(message: string, status = 2): never {
  process.stderr.write(`judge: ${message}\n${status === 2 ? `${usage}\n` : ""}`);
  process.exit(status);
}
const args = process.argv.slice(2).filter((arg, i) => i > 0 || arg !== "--");
if (args.includes("--help") || args.includes("-h")) {
  console.log(usage);
  process.exit(0);
}
let values: { site?: string; index?: string; misses?: boolean };
try {
  ({ values } = parseArgs({
    args,
    options: {
      site: { type: "string" },
      index: { type: "string" },
      misses: { type: "boolean" },
    },
  }));
} catch (error) {
  const { message } = error as Error;
  const flag = /^Option '(--[\w-]+)[^']*' argument (missing|is ambiguous)/.exec(message)?.[1];
  const unknown = /^Unknown option '([^']*)'/.exec(message)?.[1];
  fail(flag ? `${flag} needs a value` : unknown ? `unknown option '${unknown}'` : message);
}
const queries = Object.hasOwn(SITES, values.site ?? "") ? SITES[values.site!] : undefined;
if (queries === undefined) {
  fail(`--site must be one of ${Object.keys(SITES).join(", ")}, got '${values.site ?? ""}'`);
}
if (values.index === undefined) fail("--index is missing");
let index: Index;
try {
  index = Index.open(values.index);
} catch (error) {
  if (error instanceof SearchIndexError) fail(error.message, 1);
  throw error;
}
const judged = judge(index, queries);
index.close();
for (const j of judged) {
  if (values.misses && j.rank === 1) continue;
  const rank = j.rank === 0 ? "-" : String(j.rank);
  console.log(`${rank.padStart(2)}  ${j.query.padEnd(38)} ${j.top.join("  ")}`);
}
const f = figures(judged);
console.log(
  `${values.site}: ${f.queries} queries, top 1 ${f.top1}, top 3 ${f.top3}, top 10 ${f.top10}, ` +
    `MRR ${f.mrr.toFixed(3)}`,
);
