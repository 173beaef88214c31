// A reading thread reads and indexes a made-up page a few times before its first real one. Why:
// V8 compiles a function into fast machine code once it is hot, from what it has seen the function
// do so far (the types at each operation, the branches taken). A branch it never saw is compiled
// as a "deoptimization": the first page that takes it throws the machine code away, the function
// runs slowly again, and is compiled a second time, a third. Compiling is not free: on the Python
// docs, V8's compiler threads spent about a second of CPU on the reading thread's functions, a
// third of it compiling them again, on a machine of two cores where that second is taken from the
// crawl. The HTML tokenizer's rarer states (entities, CDATA, <script>), the stemmers' rarer
// suffixes and the index writer's are each met early here, while the thread would otherwise wait
// for its first page, so that the first compilation knows them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { IndexWriter } from "@async-from-scratch/shared/search";
import { readPage } from "./page.ts";

/**
 * Reads and indexes the sample `rounds` times, into an index in a temporary folder that is thrown
 * away. Only a speed-up: where it cannot run (no temporary folder to write), the crawl goes on.
 */
export function warmUp(rounds = 4): void {
  let dir: string;
  try {
    dir = mkdtempSync(join(tmpdir(), "crawler-warm-up-"));
  } catch {
    return;
  }
  try {
    const writer = IndexWriter.create(dir, { memoryBudget: 1 << 20 });
    const body = gzipSync(SAMPLE);
    for (let round = 0; round < rounds; round++) {
      const url = `http://warm-up.invalid/${round}`;
      const input = { url, body, contentType: "text/html", contentEncoding: "gzip", maxBytes: 1e6 };
      const page = readPage(input)!; // text/html: never null
      // Each round a page of its own, or the index would take the next ones for duplicates.
      const { headings } = page;
      writer.add({ url, title: `${page.title} ${round}`, text: `${page.text} ${round}`, headings });
    }
    writer.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// English words with the suffixes Porter2 takes off (and its exceptions), Russian ones with the
// endings the Russian stemmer knows; punctuation and scripts of every kind the word scan sorts.
const ENGLISH =
  "The event loop waits in epoll_wait() for sockets that are ready: it's what Node's libuv does " +
  "for 10,000 clients (C10k), 3.14 and 1'000 of them. Caresses ponies ties cats gas this gaps " +
  "kiwis feed agreed plastered bled motoring sing conflated troubled sized hopping tanned falling " +
  "hissing fizzed failing filing happy sky cry by say boy ladies relational conditional rational " +
  "valency hesitancy digitizer conformably radically differently vilely analogously " +
  "vietnamization predication operator feudalism decisiveness hopefulness callousness formality " +
  "sensitivity sensibility triplicate formative formalize electricity electrical hopeful goodness " +
  "revival allowance inference airliner gyroscopic adjustable defensible irritant replacement " +
  "adjustment dependent adoption homologous communism activate angularity effective bowdlerize " +
  "probate rate cease controlling rolled skies dying lying tying news innings outings cannings " +
  "howe proceed exceed succeed generate communication arsenal luxuriated luxuriously ugly early " +
  "only singly atlas cosmos bias andes idly gently ski skis sky's dogs' don't o'clock naïve café " +
  "“quotes” ‘apostrophes’ → ≤ — 東京タワーに行く ½ ² ① e\u0301 soft\u00adhyphen zero\u200bwidth.";
const RUSSIAN =
  "Сокеты, сокета, сокетов и сокетами: неблокирующий ввод-вывод, ёлка и елка, процессы, потоки, " +
  "корутины; событийный цикл ждёт в epoll. Бегающий бегавший прочитавши красивейшая красивейший " +
  "читающимися пишущая думаешь говорили сделала сделали делают работаем работавшими " +
  "прекраснейшими величайшему чтение сообщений обработки скорость подключения серверами клиентах " +
  "запросов ответами страницы поисковик индексом словами нет да это был была были.";

const SAMPLE = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><META NAME="Robots" CONTENT="index, follow">
<title>Event loops &amp; sockets &mdash; a sample &#8212; &#x2014; page</title>
<base href="/docs/"><link rel="stylesheet" href="s.css"><link rel=next href="next.html">
<link rel='canonical' href='https://example.org/x'><style>p { color: red }</style>
<script>var a = "<a href='no'>"; if (a < b && c > d) {}</script><noscript>hidden</noscript>
<?xml version="1.0"?><!-- a comment with <a href="no"> --></head>
<body><h1 id=top class="title main">Event loops</h1><p>${ENGLISH}</p><p>${RUSSIAN}</p>
<ul><li><a href="a.html#part">one</a><li><a HREF='../up/b.html?x=1&amp;y=2'>two</a>
<li><a href=c.html>three</a></ul><table><tr><th>head<td>cell &lt;2&gt; &nbsp; &copy; &eacute;
&notanentity; &#xZZ; &amp</table><pre><code><span class="k">def</span> <span
class="nf">main</span>():
    return 0</code></pre><img src="i.png" alt="an image"><br/><hr><input type=text value="v">
<textarea>text</textarea><svg viewBox="0 0 10 10"><title>svg</title><path d="M0 0"/><![CDATA[
x ]]></svg><math><mi>x</mi></math><iframe src="frame.html"></iframe><map><area href="area.html">
</map><a href="mailto:me@example.org">mail</a> <a href="javascript:void(0)">js</a>
<a href="100%.html">per cent</a><div>Inline<b>bold</b>text <i>and</i>  more

 words</div></p></br></body></html>`;
