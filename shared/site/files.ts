// What the site serves that is not an HTML page: robots.txt, a PDF and a JSON file. A crawler
// must read robots.txt, and must look at Content-Type before it parses a body for links.
import type { FrontPage } from "./pages.ts";

export const ROBOTS_TXT = `# Polite crawlers stay out of /private/; the page is still linked from /trouble/.
User-agent: *
Disallow: /private/
`;

/**
 * robots.txt, with a Crawl-delay line when crawlDelayMs > 0: the seconds a crawler should wait
 * between two requests (a decimal, as Yandex and Bing read it). The site serves none by default,
 * so that a benchmark of 1,000 pages measures the crawler, not the delay.
 */
export function robotsTxt(crawlDelayMs: number): string {
  return crawlDelayMs > 0 ? `${ROBOTS_TXT}Crawl-delay: ${crawlDelayMs / 1000}\n` : ROBOTS_TXT;
}

/** JSON that mentions page paths: a crawler that scans every body for URLs would follow them. */
export function dataJson(wiki: Omit<FrontPage, "featured">): string {
  const categories = wiki.categories.map(({ slug, title, articles }) => ({
    path: `/category/${slug}`,
    title,
    articles,
  }));
  return JSON.stringify({ name: "Mini-wiki", articles: wiki.articles, categories }, null, 2);
}

/** A one-page PDF, small but valid, so a browser opens it too. */
export const REPORT_PDF = tinyPdf("A report, not a web page.");

function tinyPdf(text: string): Buffer {
  const content = `BT /F1 18 Tf 20 40 Td (${text}) Tj ET`;
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 100] /Contents 4 0 R " +
      "/Resources << /Font << /F1 5 0 R >> >> >>",
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  ];
  // A PDF ends with a table of the byte offset of every object, so build it and count as we go
  // (ASCII only, so string length is byte length).
  let pdf = "%PDF-1.4\n";
  const offsets = objects.map((body, i) => {
    const offset = pdf.length;
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
    return offset;
  });
  const table = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  pdf += offsets.map((offset) => `${String(offset).padStart(10, "0")} 00000 n \n`).join("");
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${table}\n%%EOF\n`;
  return Buffer.from(pdf, "latin1");
}
