import { test, expect, Page } from "@playwright/test";
import { signIn, hydrated } from "./helpers";

/** Collects every Content-Security-Policy violation and console error the page reports. */
function watchForViolations(page: Page) {
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  return problems;
}

async function violationsReportedBy(page: Page): Promise<string[]> {
  // securitypolicyviolation events fire on the document; the listener is installed before any
  // script runs (addInitScript), so none is missed.
  return page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);
}

test.beforeEach(async ({ page }) => {
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __cspViolations: string[] }).__cspViolations = seen;
    document.addEventListener("securitypolicyviolation", (e) => seen.push(`${e.violatedDirective}: ${e.blockedURI}`));
  });
});

test("the sign-in page hydrates under its Content-Security-Policy with no violation", async ({ page }) => {
  const problems = watchForViolations(page);
  const response = await page.goto("/login");
  const csp = response!.headers()["content-security-policy"];
  expect(csp).toContain("script-src 'self' 'nonce-");
  expect(csp).toContain("frame-ancestors 'none'");
  await hydrated(page);
  expect(await violationsReportedBy(page)).toEqual([]);
  expect(problems).toEqual([]);
});

test("the dashboard streams, hydrates and fills in with no CSP violation or console error", async ({ page }) => {
  const problems = watchForViolations(page);
  await signIn(page, "merchant");
  await expect(page).toHaveURL("/");
  await hydrated(page);
  await expect(page.locator('[data-panel="sales"] [data-skeleton]')).toHaveCount(0);
  await expect(page.locator('[data-panel="fraud"]').getByRole("table")).toBeVisible();
  expect(await violationsReportedBy(page)).toEqual([]);
  expect(problems).toEqual([]);
});

test("an injected inline script without the nonce does not run", async ({ page }) => {
  await page.goto("/login");
  await hydrated(page);
  const ran = await page.evaluate(async () => {
    (window as unknown as { __injected: boolean }).__injected = false;
    const script = document.createElement("script");
    script.textContent = "window.__injected = true";
    document.body.appendChild(script);
    await new Promise((resolve) => setTimeout(resolve, 0));
    return (window as unknown as { __injected: boolean }).__injected;
  });
  expect(ran).toBe(false);
  expect((await violationsReportedBy(page)).some((v) => v.startsWith("script-src"))).toBe(true);
});
