// Lighthouse on Vetted's pages, signed in, for `make bench-web` (scripts/bench-web.sh starts the
// release server and calls this with its base URL).
//
// Each page is measured BENCH_WEB_RUNS times (default 3) by the Lighthouse CLI with its mobile
// defaults (Moto G Power emulation, simulated slow 4G and 4× CPU slowdown) in Debian's headless
// Chromium; the run with the median performance score is reported, with the range over the runs.
// Signed-in pages get the session cookie through Lighthouse's `--extra-headers`.
import { spawnSync } from "node:child_process";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const base = process.argv[2] ?? "http://127.0.0.1:3200";
const runs = Number(process.env.BENCH_WEB_RUNS ?? 3);
const record = process.env.BENCH_WEB_NO_RECORD !== "1";
const chromium = process.env.CHROME_PATH ?? "/usr/bin/chromium";
const outDir = path.join(repo, "target/bench-web");

const users = {
  merchant: ["merchant@vetted.test", "vetted-merchant-demo"],
  reviewer: ["reviewer@vetted.test", "vetted-reviewer-demo"],
  admin: ["admin@vetted.test", "vetted-admin-demo"],
};

// Pages as they arrive: the queue and the rules page are measured as whoever works them.
const pages = [
  { name: "/login", path: "/login", role: null },
  { name: "/ (dashboard)", path: "/", role: "merchant" },
  { name: "/queue", path: "/queue", role: "reviewer" },
  { name: "/admin/rules", path: "/admin/rules", role: "admin" },
];

const targets = { performance: 0.95, accessibility: 1, cls: 0.05, wasmBytes: 350_000 };

/** Signs in through the login server function and returns the `Cookie` header value. */
async function signIn(role) {
  const [email, password] = users[role];
  const response = await fetch(`${base}/rpc/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ email, password }),
    redirect: "manual",
  });
  const cookie = response.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .find((c) => c.startsWith("vetted_session="));
  if (!cookie) throw new Error(`signing in as ${role} failed: HTTP ${response.status} ${await response.text()}`);
  return cookie;
}

async function getPage(pagePath, cookie) {
  const response = await fetch(`${base}${pagePath}`, { headers: cookie ? { cookie } : {}, redirect: "manual" });
  return { status: response.status, body: await response.text() };
}

/** The dashboard as a merchant sees it after the first PayPal sync (not "Syncing…"): 60 s at most. */
async function waitForPaypalData(cookie) {
  for (let i = 0; i < 60; i++) {
    const { body } = await getPage("/", cookie);
    if (body.includes('data-testid="paypal-age"') || body.includes('data-testid="paypal-not-connected"')) return true;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return false;
}

/** Bytes of a file as served to a browser that accepts brotli and gzip, and its encoding. */
function overTheWire(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { "accept-encoding": "br, gzip" } }, (res) => {
        let bytes = 0;
        res.on("data", (chunk) => (bytes += chunk.length));
        res.on("end", () =>
          resolve({
            bytes,
            encoding: res.headers["content-encoding"] ?? "identity",
            cacheControl: res.headers["cache-control"] ?? "",
          }),
        );
      })
      .on("error", reject);
  });
}

function lighthouse(page, cookie, run) {
  const slug = page.path === "/" ? "dashboard" : page.path.replaceAll("/", "-").replace(/^-/, "");
  const output = path.join(outDir, `${slug}-${run}.json`);
  const args = [
    `${base}${page.path}`,
    "--output=json",
    `--output-path=${output}`,
    "--only-categories=performance,accessibility,best-practices",
    "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --disable-background-networking --disable-component-update --disable-sync",
    "--quiet",
  ];
  if (cookie) args.push(`--extra-headers=${JSON.stringify({ Cookie: cookie })}`);
  const result = spawnSync(path.join(repo, "node_modules/.bin/lighthouse"), args, {
    env: { ...process.env, CHROME_PATH: chromium },
    encoding: "utf8",
    timeout: 180_000,
  });
  if (result.status !== 0) throw new Error(`lighthouse failed on ${page.path}: ${result.stderr || result.error}`);
  return JSON.parse(readFileSync(output, "utf8"));
}

function summarise(lhr) {
  const audit = (id) => lhr.audits[id];
  const requests = audit("network-requests")?.details?.items ?? [];
  const wasm = requests.find((r) => r.url.endsWith(".wasm"));
  const consoleErrors = (audit("errors-in-console")?.details?.items ?? []).map((e) => `${e.source}: ${e.description}${e.url ? ` (${e.url})` : ""}`);
  return {
    performance: lhr.categories.performance.score,
    accessibility: lhr.categories.accessibility.score,
    bestPractices: lhr.categories["best-practices"]?.score,
    fcp: audit("first-contentful-paint").numericValue,
    lcp: audit("largest-contentful-paint").numericValue,
    tbt: audit("total-blocking-time").numericValue,
    cls: audit("cumulative-layout-shift").numericValue,
    si: audit("speed-index").numericValue,
    consoleErrors,
    wasmTransfer: wasm?.transferSize,
    finalUrl: lhr.finalDisplayedUrl ?? lhr.finalUrl,
    runWarnings: lhr.runWarnings ?? [],
    lighthouseVersion: lhr.lighthouseVersion,
    userAgent: lhr.environment?.hostUserAgent ?? lhr.userAgent,
    lcpElement: audit("largest-contentful-paint-element")?.details?.items?.[0]?.items?.[0]?.node?.snippet,
    shifts: (audit("layout-shifts")?.details?.items ?? []).map((s) => `${s.score?.toFixed(3)} ${s.node?.snippet ?? ""}`),
    blocking: (audit("render-blocking-resources")?.details?.items ?? []).map((r) => `${r.url} (${Math.round(r.wastedMs)} ms)`),
  };
}

const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;
const kb = (bytes) => (bytes == null ? "–" : `${(bytes / 1000).toFixed(1)} KB`);

async function main() {
  const cookies = {};
  for (const role of new Set(pages.map((p) => p.role).filter(Boolean))) cookies[role] = await signIn(role);
  if (!(await waitForPaypalData(cookies.merchant))) console.warn("bench-web: the dashboard still shows no PayPal data after 60 s");
  // Warm the server's caches: every page once before measuring.
  for (const page of pages) {
    const { status } = await getPage(page.path, page.role && cookies[page.role]);
    if (status !== 200) throw new Error(`${page.path} answered ${status} to ${page.role ?? "an anonymous visitor"}`);
  }

  const html = (await getPage("/login")).body;
  // The hydration script names the JS and wasm files: ("pkg", "vetted.<hash>", "vetted.<hash>").
  const [, pkg, js, wasm] = html.match(/\("([^"]+)", "([^"]+)", "([^"]+)"\);/) ?? [];
  const wasmPath = wasm && `/${pkg}/${wasm}.wasm`;
  const jsPath = js && `/${pkg}/${js}.js`;
  const cssPath = html.match(/\/pkg\/[^"']+\.css/)?.[0];
  const wire = {};
  for (const [kind, p] of [["wasm", wasmPath], ["js", jsPath], ["css", cssPath]]) {
    if (p) wire[kind] = { path: p, ...(await overTheWire(`${base}${p}`)), raw: (await (await fetch(`${base}${p}`, { headers: { "accept-encoding": "identity" } })).arrayBuffer()).byteLength };
  }

  const rows = [];
  for (const page of pages) {
    const cookie = page.role ? cookies[page.role] : null;
    const results = [];
    for (let run = 1; run <= runs; run++) {
      const summary = summarise(lighthouse(page, cookie, run));
      if (!summary.finalUrl.endsWith(page.path)) throw new Error(`${page.path} ended on ${summary.finalUrl}: not signed in?`);
      results.push(summary);
      process.stderr.write(`${page.name} run ${run}: performance ${summary.performance}, LCP ${seconds(summary.lcp)}, TBT ${Math.round(summary.tbt)} ms, CLS ${summary.cls.toFixed(3)}\n`);
    }
    const sorted = [...results].sort((a, b) => a.performance - b.performance);
    const median = sorted[Math.floor((sorted.length - 1) / 2)];
    rows.push({ page, median, min: sorted[0].performance, max: sorted.at(-1).performance, allErrors: [...new Set(results.flatMap((r) => r.consoleErrors))] });
  }

  const first = rows[0].median;
  const table = [
    "| page | performance (range over runs) | accessibility | FCP | LCP | TBT | CLS | console errors | wasm over the wire |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows.map(({ page, median: m, min, max, allErrors }) =>
      `| ${page.name}${page.role ? ` (${page.role})` : ""} | ${m.performance.toFixed(2)} (${min.toFixed(2)}–${max.toFixed(2)}) | ${m.accessibility.toFixed(2)} | ${seconds(m.fcp)} | ${seconds(m.lcp)} | ${Math.round(m.tbt)} ms | ${m.cls.toFixed(3)} | ${allErrors.length} | ${kb(m.wasmTransfer)} |`,
    ),
  ].join("\n");

  const wasmWire = Math.max(...rows.map((r) => r.median.wasmTransfer ?? 0));
  const checks = [
    ["performance ≥ 0.95 on each page", rows.every((r) => r.median.performance >= targets.performance), rows.map((r) => r.median.performance.toFixed(2)).join(" / ")],
    ["accessibility 1.0 on each page", rows.every((r) => r.median.accessibility >= targets.accessibility), rows.map((r) => r.median.accessibility.toFixed(2)).join(" / ")],
    ["CLS ≤ 0.05", rows.every((r) => r.median.cls <= targets.cls), rows.map((r) => r.median.cls.toFixed(3)).join(" / ")],
    ["no console error", rows.every((r) => r.allErrors.length === 0), `${rows.reduce((n, r) => n + r.allErrors.length, 0)} distinct over all runs`],
    ["wasm ≤ 350 KB over the wire", wasmWire > 0 && wasmWire <= targets.wasmBytes, kb(wasmWire)],
  ];
  const targetsTable = [
    "| target | reading (pages in table order) | met? |",
    "|---|---|---|",
    ...checks.map(([target, ok, reading]) => `| ${target} | ${reading} | ${ok ? "met" : "not met"} |`),
  ].join("\n");

  const files = Object.entries(wire)
    .map(([kind, w]) => `${kind} ${kb(w.raw)} → ${kb(w.bytes)} ${w.encoding} (\`${w.cacheControl}\`)`)
    .join("; ");
  const chromiumVersion = spawnSync(chromium, ["--version"], { encoding: "utf8" }).stdout.trim();
  const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repo, encoding: "utf8" }).stdout.trim();
  const dirty = spawnSync("git", ["status", "--porcelain", "--untracked-files=no", "--", "src", "style", "public", "Cargo.toml"], { cwd: repo, encoding: "utf8" }).stdout.trim() ? " plus uncommitted changes" : "";
  const machine = `Lighthouse ${first.lighthouseVersion} (npm, pinned: 13 needs Node 22, this machine has Node ${process.versions.node}), ${chromiumVersion} headless, mobile defaults (simulated slow 4G, 4× CPU slowdown); ${runs} runs a page, the median by performance shown; release build at ${commit}${dirty}; server, database and browser share ${os.cpus().length} cores.`;
  const details = rows
    .map(({ page, median: m, allErrors }) => {
      const lines = [`- ${page.name}: LCP element ${m.lcpElement ? `\`${m.lcpElement.replace(/\s+/g, " ").slice(0, 100)}\`` : "–"}; speed index ${seconds(m.si)}; best practices ${m.bestPractices?.toFixed(2) ?? "–"}`];
      if (m.shifts.length) lines.push(`  layout shifts: ${m.shifts.map((s) => `\`${s.replace(/\s+/g, " ").slice(0, 90)}\``).join(", ")}`);
      if (m.blocking.length) lines.push(`  render-blocking: ${m.blocking.join(", ")}`);
      for (const e of allErrors) lines.push(`  console: ${e}`);
      for (const w of m.runWarnings) lines.push(`  Lighthouse warning: ${w}`);
      return lines.join("\n");
    })
    .join("\n");

  const date = new Date().toISOString().slice(0, 16).replace("T", " ");
  console.log(`\n${table}\n\nTargets:\n\n${targetsTable}\n\nAssets: ${files}\n${machine}\n\n${details}\n\nReports: target/bench-web/*.json`);
  if (record) {
    const entry = `\n### bench-web — ${date} UTC\n\nCommand: \`make bench-web\`. ${machine}\n\n${table}\n\n${targetsTable}\n\nAssets: ${files}.\n\n${details}\n`;
    appendFileSync(path.join(repo, "docs/benchmarks.md"), entry);
    console.log("\nAppended to docs/benchmarks.md (Appended runs).");
  }
  writeFileSync(path.join(outDir, "summary.json"), JSON.stringify({ date, rows, wire }, null, 2));
}

main().catch((error) => {
  console.error(`bench-web: ${error.message}`);
  process.exit(1);
});
