import { test, expect } from "@playwright/test";
import { expectAccessible, hydrated, signIn } from "./helpers";

test("an admin imports a CSV with one bad line, sees its line number, fixes it there and imports", async ({ page }) => {
  await signIn(page, "admin", "/login?next=/admin/lists");
  await expect(page).toHaveURL(/\/admin\/lists$/);
  await hydrated(page);
  await page.getByRole("navigation", { name: "Lists" }).getByRole("link", { name: /blocked_emails/ }).click();
  await expect(page.getByTestId("list-name")).toHaveText("blocked_emails");
  await expectAccessible(page);

  await page.getByTestId("import-open").click();
  await page.getByTestId("import-file").setInputFiles({
    name: "more.csv",
    mimeType: "text/csv",
    buffer: Buffer.from("value,reason\nfirst@e2e.test,chargeback\nnot-an-email,typo\nthird@e2e.test,\n"),
  });
  const text = page.getByTestId("import-text");
  await expect(text).toHaveValue(/not-an-email/);
  await page.getByTestId("import-reason").fill("e2e import");
  await page.getByTestId("import-preview").click();
  const errors = page.getByTestId("import-errors");
  await expect(errors.locator("tr")).toHaveCount(1);
  await expect(errors.locator("td").first()).toHaveText("3");
  await expect(errors).toContainText("not-an-email");
  await expect(page.getByTestId("import-confirm")).toHaveCount(0);
  await expect(page.getByTestId("import-valid-only")).toHaveText("Import the 2 valid lines only");
  await expectAccessible(page);

  // Fixed in place: the preview is dropped until asked again.
  await text.fill((await text.inputValue()).replace("not-an-email", "second@e2e.test"));
  await expect(page.getByTestId("import-summary")).toHaveCount(0);
  await page.getByTestId("import-preview").click();
  await expect(page.getByTestId("import-summary")).toContainText("3 to add");
  await page.getByTestId("import-confirm").click();
  await expect(page.getByTestId("list-status")).toContainText("3 added");

  await page.getByTestId("list-search").fill("e2e.test");
  const rows = page.getByTestId("entries").locator("tr");
  await expect(rows).toHaveCount(3);

  // Removal by keyboard: the dialog takes focus, Enter confirms, focus comes back to the page.
  await page.getByRole("button", { name: "Remove first@e2e.test" }).focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("dialog")).toBeVisible();
  await expect(page.getByTestId("remove-confirm")).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("list-status")).toContainText("Removed first@e2e.test");
  await expect(rows).toHaveCount(2);

  // The audit log has both, for this list.
  await page.getByRole("link", { name: "Audit log" }).click();
  await hydrated(page);
  await page.getByTestId("audit-kind").selectOption("list");
  await page.getByTestId("audit-object").fill("blocked_emails");
  await page.getByTestId("audit-apply").click();
  await expect(page).toHaveURL(/object_kind=list&object_id=blocked_emails/);
  const events = page.getByTestId("audit-events");
  await expect(events).toContainText("removed first@e2e.test in blocked_emails");
  await expect(events).toContainText("list.imported");
  await expectAccessible(page);
});

test("a new list's bad name is refused beside the form, and nothing is created", async ({ page }) => {
  await signIn(page, "admin", "/login?next=/admin/lists");
  await hydrated(page);
  await page.getByTestId("new-list").click();
  await expect(page.getByTestId("new-list-name")).toBeFocused();
  await page.getByTestId("new-list-name").fill("bad name");
  // The browser's own pattern check stops the form; the server's message is the same rule.
  await page.getByTestId("new-list-name").press("Enter");
  await expect(page.getByTestId("lists")).not.toContainText("bad name");
  await page.getByTestId("new-list-name").fill("e2e_bins");
  await page.getByTestId("new-list-kind").selectOption("card_bin");
  await page.getByTestId("new-list-name").press("Enter");
  await expect(page).toHaveURL(/list=e2e_bins/);
  await expect(page.getByTestId("list-name")).toHaveText("e2e_bins");
  await page.getByTestId("entry-value").fill("12ab");
  await page.getByTestId("entry-reason").fill("testing");
  await page.getByTestId("entry-add").click();
  await expect(page.getByTestId("entry-error")).toContainText("card BIN");
  await expect(page.getByTestId("no-entries")).toBeVisible();
});
