import { test, expect, Page, APIRequestContext } from "@playwright/test";
import { signIn, hydrated, expectAccessible } from "./helpers";

/** Sends one transaction through the ingest API with the given key; returns its decision. */
async function ingest(request: APIRequestContext, key: string, externalId: string, email: string, cents: number) {
  const response = await request.post("/api/v1/transactions", {
    headers: { Authorization: `Bearer ${key}` },
    data: {
      external_id: externalId, merchant_id: 1, amount: cents, currency: "USD", buyer_email: email,
      buyer_ip: "198.51.100.77", ip_country: "US", card_fingerprint: `fp_${externalId}`, card_country: "US",
    },
  });
  expect(response.status()).toBe(201);
  return response.json();
}

async function expression(page: Page) {
  return page.getByRole("textbox", { name: /Condition \(CEL\)/ });
}

test("an admin writes a rule with a typo, fixes it by completion, tests it on a transaction, backtests it and publishes it; the next match opens a case", async ({ page, browser }) => {
  // A long walk: write, test, backtest, publish, ingest, review.
  test.setTimeout(60_000);
  const stamp = Date.now().toString(36);
  await signIn(page, "admin");
  await expect(page).toHaveURL("/admin/rules");
  await hydrated(page);
  await expect(page.getByTestId("live-summary")).toContainText("Version 1");
  await expectAccessible(page);

  // A key to send transactions with, and one transaction the live rules allow.
  const created = await page.request.post("/rpc/admin/create_api_key", { data: { name: `e2e rules ${stamp}` } });
  expect(created.status()).toBe(200);
  const key = (await created.json()).key as string;
  const before = await ingest(page.request, key, `rules-${stamp}-1`, `buyer-${stamp}@e2e-rules.test`, 15_000);

  await page.getByTestId("start-draft").click();
  await page.getByTestId("add-rule").click();
  const name = page.getByTestId("rule-form").getByLabel("Name", { exact: true });
  await expect(name).toBeFocused();
  await name.fill("E2E rules domain");
  const editor = await expression(page);
  await editor.focus();
  await page.keyboard.type("transaction.amout > 100.0");
  const problems = page.getByTestId("expression-problems");
  await expect(problems).toContainText(/Line 1, column \d+: .*amout/);
  await expect(editor).toHaveAttribute("aria-invalid", "true");

  // Fix it with a completion: the typo itself finds the field.
  await page.keyboard.press("Home");
  for (let i = 0; i < "transaction.amout".length; i++) await page.keyboard.press("ArrowRight");
  await page.keyboard.press("Control+Space");
  const completions = page.getByTestId("completions");
  await expect(completions.getByRole("option").first()).toContainText("transaction.amount");
  await page.keyboard.press("Enter");
  await expect(editor).toHaveValue("transaction.amount > 100.0");
  await page.keyboard.press("End");
  await page.keyboard.type(` && transaction.email_domain == 'e2e-rules.test'`);
  await expect(problems).toBeEmpty();
  await expect(page.getByText("The condition checks")).toBeVisible();
  await expect(editor).toHaveAttribute("aria-invalid", "false");

  // Test it on the stored transaction: the draft reviews what the live rules allowed.
  await page.getByTestId("test-transaction-id").fill(String(before.transaction_id));
  await page.getByTestId("run-test").click();
  const trial = page.getByTestId("trial");
  await expect(trial).toContainText(`Transaction ${before.transaction_id}`);
  await expect(trial).toContainText("Draft, as edited");
  await expect(trial).toContainText("E2E rules domain — matched");

  await page.getByTestId("save-draft").click();
  await expect(page.getByTestId("rules-status")).toContainText(/Saved draft version \d+, revision 1/);

  // Backtest the saved revision on a year of history: the bar fills, the matrix shows.
  await page.getByTestId("backtest-days").selectOption("366");
  await page.getByTestId("start-backtest").click();
  const progress = page.getByRole("progressbar", { name: "Backtest progress" });
  await expect(progress).toBeVisible();
  await expect(page.getByTestId("backtest-status")).toContainText("Done", { timeout: 30_000 });
  await expect(progress).toHaveAttribute("aria-valuenow", "100");
  await expect(page.getByTestId("backtest-matrix")).toContainText("allow");
  await expect(page.getByTestId("backtest-rules")).toContainText("E2E rules domain");
  // Only the new rule was evaluated: the unchanged ones' stored results were taken.
  await expect(page.getByTestId("backtest-replay")).toContainText(/[1-9][\d,]* taken from the stored decisions/);
  await expectAccessible(page);

  await page.getByTestId("publish").click();
  await expect(page.getByTestId("dialog-text")).toBeFocused();
  await expect(page.getByTestId("publish-backtest")).toContainText("Backtested on this revision");
  await page.getByTestId("dialog-text").fill("Review large payments from the e2e domain");
  await page.getByTestId("dialog-confirm").click();
  await expect(page.getByTestId("rules-status")).toContainText(/Version \d+ is live/);
  await expect(page.getByTestId("ruleset-history")).toContainText("Review large payments from the e2e domain");
  await expect(page.getByTestId("diff")).toContainText("+ E2E rules domain");

  // The next matching payment opens a case the reviewer sees, with the rule that matched.
  const decided = await ingest(page.request, key, `rules-${stamp}-2`, `buyer2-${stamp}@e2e-rules.test`, 25_000);
  expect(decided.outcome).toBe("review");
  const reviewer = await (await browser.newContext()).newPage();
  await signIn(reviewer, "reviewer");
  await expect(reviewer).toHaveURL("/queue");
  await reviewer.goto(`/cases/${decided.case_id}`);
  await hydrated(reviewer);
  await expect(reviewer.getByText("E2E rules domain").first()).toBeVisible();
});
