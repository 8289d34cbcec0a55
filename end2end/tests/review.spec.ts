import { test, expect, Page } from "@playwright/test";
import { signIn, hydrated, expectAccessible } from "./helpers";

/** The case id in a /cases/:id URL. */
function caseId(page: Page): string {
  const match = new URL(page.url()).pathname.match(/^\/cases\/(\d+)$/);
  expect(match, `a case page, got ${page.url()}`).not.toBeNull();
  return match![1];
}

async function nextCaseOpens(page: Page, after: string | null) {
  await expect(page).toHaveURL(/\/cases\/\d+/);
  if (after) await expect(page).not.toHaveURL(new RegExp(`/cases/${after}(\\?|$)`));
  await expect(page.getByTestId("case-heading")).toBeFocused();
  await hydrated(page);
}

test("a reviewer works three cases by keyboard only: next, approve, refund as fraud with its list entries, escalate", async ({ page }) => {
  await signIn(page, "reviewer");
  await expect(page).toHaveURL("/queue");
  await hydrated(page);
  await expect(page.getByTestId("queue-table")).toBeVisible();

  await page.keyboard.press("n");
  await nextCaseOpens(page, null);
  const first = caseId(page);
  await expect(page.getByTestId("approve")).toBeVisible();
  await page.keyboard.press("a");

  await nextCaseOpens(page, first);
  const second = caseId(page);
  const card = await page.locator("dd").filter({ hasText: /^fp_/ }).first().textContent();
  await page.keyboard.press("f");
  const dialog = page.getByTestId("decision-dialog");
  await expect(dialog).toBeVisible();
  await expect(page.getByTestId("decision-note")).toBeFocused();
  await expect(page.getByTestId("block-card")).toBeChecked();
  await page.keyboard.type("Card reported stolen by the bank");
  await page.keyboard.press("Control+Enter");

  await nextCaseOpens(page, second);
  const third = caseId(page);
  await page.keyboard.press("e");
  await expect(page.getByTestId("decision-note")).toBeFocused();
  await page.keyboard.type("Same device on three merchants");
  await page.keyboard.press("Control+Enter");
  await nextCaseOpens(page, third);

  // What happened, case by case.
  await page.goto(`/cases/${first}`);
  await expect(page.getByTestId("case-state")).toHaveText("Resolved: Approved (false positive)");
  await page.goto(`/cases/${second}`);
  await expect(page.getByTestId("case-state")).toHaveText("Resolved: Refunded as fraud");
  const added = page.getByTestId("timeline").locator('[data-kind="list_entry_added"]');
  await expect(added).toHaveCount(2);
  await expect(added.first()).toContainText(`blocked_cards: ${card}`);
  await page.goto(`/cases/${third}`);
  await expect(page.getByTestId("case-state").first()).toHaveText("Escalated");
  await expect(page.getByTestId("timeline").locator('[data-kind="escalated"]')).toContainText("Same device on three merchants");
});

test("? opens the keyboard help, Escape closes it, and keys do not fire while typing", async ({ page }) => {
  await signIn(page, "reviewer");
  await expect(page).toHaveURL("/queue");
  await expect(page.getByTestId("queue-table")).toBeVisible();
  await hydrated(page);
  await page.keyboard.press("?");
  const help = page.getByRole("dialog", { name: "Keyboard shortcuts" });
  await expect(help).toBeVisible();
  await expect(help.getByRole("button", { name: "Close" })).toBeFocused();
  await expect(help).toContainText("Refund as fraud");
  await page.keyboard.press("Escape");
  await expect(help).toBeHidden();
  // Typing "n" into the rule filter types it; it does not claim a case.
  await page.getByText("Filters and sort").click();
  await page.getByLabel("Rule matched").fill("n");
  await page.getByLabel("Rule matched").press("n");
  await expect(page).toHaveURL(/\/queue/);
});

test("two reviewers pressing n at once get different cases", async ({ browser }) => {
  const [a, b] = [await browser.newContext(), await browser.newContext()];
  const [pa, pb] = [await a.newPage(), await b.newPage()];
  await signIn(pa, "reviewer");
  await signIn(pb, "admin", "/login?next=/queue");
  await expect(pa).toHaveURL("/queue");
  await expect(pb).toHaveURL("/queue");
  await Promise.all([hydrated(pa), hydrated(pb)]);
  await Promise.all([pa.keyboard.press("n"), pb.keyboard.press("n")]);
  await Promise.all([expect(pa).toHaveURL(/\/cases\/\d+/), expect(pb).toHaveURL(/\/cases\/\d+/)]);
  expect(caseId(pa)).not.toEqual(caseId(pb));
  // The admin opening the reviewer's case sees it read-only, with the holder's name.
  await pb.goto(`/cases/${caseId(pa)}`);
  await expect(pb.getByTestId("read-only")).toContainText("Riley Reviewer holds this case");
  await a.close();
  await b.close();
});

test("the queue and the case page are accessible and fit a phone", async ({ page }) => {
  await signIn(page, "reviewer");
  await expect(page).toHaveURL("/queue");
  await hydrated(page);
  await expect(page.getByTestId("queue-table")).toBeVisible();
  await expectAccessible(page);
  const href = await page.getByTestId("case-link").first().getAttribute("href");
  await page.goto(href!);
  await hydrated(page);
  await expect(page.getByTestId("rule-results")).toBeVisible();
  await expectAccessible(page);
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});

test("an admin flags a merchant from the merchant page; a missing reason is refused; the history names who and why", async ({ page }) => {
  await signIn(page, "admin");
  await expect(page).toHaveURL("/admin/rules");
  await page.goto("/merchants/3");
  await hydrated(page);
  await expect(page.getByTestId("merchant-heading")).toBeVisible();
  await expectAccessible(page);
  await page.getByTestId("merchant-action").selectOption("put_on_probation");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByTestId("merchant-status")).toContainText("A reason is required");
  await page.getByTestId("merchant-reason").fill("Refund rate tripled this week");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByTestId("merchant-status")).toContainText("on probation");
  await expect(page.getByTestId("risk-history")).toContainText("Refund rate tripled this week");
  await expect(page.getByTestId("risk-history")).toContainText("by Ada Admin");
});

test("a reviewer selects cases with x and shift-click and approves them in bulk after a confirmation that names the count", async ({ page }) => {
  await signIn(page, "reviewer", "/login?next=%2Fqueue%3Fsort%3Doldest");
  await expect(page).toHaveURL("/queue?sort=oldest");
  await hydrated(page);
  const rows = page.getByTestId("queue-table").locator("tbody tr");
  const [first, second] = [await rows.nth(0).getAttribute("data-case-id"), await rows.nth(1).getAttribute("data-case-id")];
  // By keyboard: x on the first row, j, x on the second.
  await page.keyboard.press("x");
  await page.keyboard.press("j");
  await page.keyboard.press("x");
  await expect(page.getByTestId("selected-count")).toHaveText("2 selected");
  await page.getByTestId("bulk-approve").click();
  await expect(page.getByTestId("bulk-dialog")).toContainText("Approve 2 cases?");
  await expect(page.getByTestId("bulk-confirm")).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("queue-status")).toHaveText("Approved 2 cases.");
  await expect(rows.first()).not.toHaveAttribute("data-case-id", first!);
  // Shift-click selects a range; Clear empties the selection.
  await rows.nth(2).getByTestId("select-case").click();
  await rows.nth(4).getByTestId("select-case").click({ modifiers: ["Shift"] });
  await expect(page.getByTestId("selected-count")).toHaveText("3 selected");
  await expectAccessible(page);
  await page.getByTestId("bulk-bar").getByRole("button", { name: "Clear" }).click();
  await expect(page.getByTestId("bulk-bar")).toBeHidden();
  for (const id of [first, second]) {
    await page.goto(`/cases/${id}`);
    await expect(page.getByTestId("case-state")).toHaveText("Resolved: Approved (false positive)");
    await expect(page.getByTestId("timeline").locator('[data-kind="resolved"]')).toContainText("bulk approval");
  }
});

test("t approves and trusts the buyer at this merchant only, with the reason typed; the next case opens at once", async ({ page }) => {
  await signIn(page, "reviewer");
  await expect(page).toHaveURL("/queue");
  await hydrated(page);
  await page.keyboard.press("n");
  await nextCaseOpens(page, null);
  const trusted = caseId(page);
  await page.keyboard.press("t");
  await expect(page.getByTestId("decision-dialog")).toContainText("trust this buyer at this merchant");
  await expect(page.getByTestId("trust-email")).toBeChecked();
  await expect(page.getByTestId("trust-card")).not.toBeChecked();
  await expect(page.getByTestId("decision-note")).toBeFocused();
  await page.keyboard.press("Shift+Tab");
  await page.keyboard.press("Shift+Tab");
  await expect(page.getByTestId("list-reason")).toBeFocused();
  await page.keyboard.type("Regular buyer, confirmed by email");
  await page.keyboard.press("Control+Enter");
  await nextCaseOpens(page, trusted);
  await page.goto(`/cases/${trusted}`);
  await expect(page.getByTestId("case-state")).toHaveText("Resolved: Approved (false positive)");
  const added = page.getByTestId("timeline").locator('[data-kind="list_entry_added"]');
  await expect(added).toHaveCount(1);
  await expect(added).toContainText("trusted_emails");
  await expect(added).toContainText("(this merchant only)");
});

test("an address that names no case or merchant says so", async ({ page }) => {
  await signIn(page, "reviewer");
  await expect(page).toHaveURL("/queue");
  await page.goto("/cases/abc");
  await expect(page.getByRole("alert")).toContainText("That address does not name a case");
  await page.goto("/merchants/abc");
  await expect(page.getByRole("alert")).toContainText("That address does not name a merchant");
});
