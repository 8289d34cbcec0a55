import { test, expect, Page } from "@playwright/test";
import { signIn, hydrated, expectAccessible } from "./helpers";

const PASSWORD = "e2e reviewer password";

async function openAdminPage(page: Page, path: string) {
  await signIn(page, "admin");
  await expect(page).toHaveURL("/admin/rules");
  await page.goto(path);
  await hydrated(page);
}

test("an admin creates a reviewer who signs in; disabling them sends their next navigation to sign-in", async ({ page, browser }) => {
  const stamp = Date.now().toString(36);
  const email = `rev-${stamp}@vetted.test`;
  const name = `Rev ${stamp}`;
  await openAdminPage(page, "/admin/users");
  await expect(page.getByTestId("users-table")).toBeVisible();
  await expectAccessible(page);

  const form = page.getByTestId("create-user-form");
  await form.getByLabel("Email").fill(email);
  await form.getByLabel("Display name").fill(name);
  await form.getByLabel("Role").selectOption("reviewer");
  await form.getByLabel("Initial password").fill(PASSWORD);
  await page.getByTestId("create-user").click();
  await expect(page.getByTestId("users-status")).toContainText(`Created ${name}`);
  const row = page.locator(`tr[data-email="${email}"]`);
  await expect(row).toContainText("Reviewer");
  await expect(row).toContainText("Enabled");

  // The new reviewer signs in, in a browser of their own.
  const theirs = await browser.newContext();
  const reviewer = await theirs.newPage();
  await reviewer.goto("/login");
  await hydrated(reviewer);
  await reviewer.getByLabel("Email").fill(email);
  await reviewer.getByLabel("Password").fill(PASSWORD);
  await reviewer.getByRole("button", { name: "Sign in" }).click();
  await expect(reviewer).toHaveURL("/queue");

  // Reset password: a dialog with the focus in its field; accessible; Esc closes it.
  await row.getByRole("button", { name: `Reset password: ${name}` }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByTestId("new-password")).toBeFocused();
  await expectAccessible(page);
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(row.getByRole("button", { name: `Reset password: ${name}` })).toBeFocused();

  // Disable: confirmed with the consequence, then said on the row.
  await row.getByRole("button", { name: `Disable ${name}` }).click();
  await expect(dialog).toContainText("signed out everywhere");
  await expect(page.getByTestId("confirm-disable")).toBeFocused();
  await page.getByTestId("confirm-disable").click();
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId("users-status")).toContainText(`${name} is disabled`);
  await expect(row).toContainText("Disabled");

  // Their next navigation lands on sign-in, and signing in says the account is disabled.
  await reviewer.goto("/queue");
  await expect(reviewer).toHaveURL(/\/login\?next=\/queue/);
  await hydrated(reviewer);
  await reviewer.getByLabel("Email").fill(email);
  await reviewer.getByLabel("Password").fill(PASSWORD);
  await reviewer.getByRole("button", { name: "Sign in" }).click();
  await expect(reviewer.getByTestId("login-error")).toContainText("This account is disabled");
  await theirs.close();

  // The last admin cannot step down: the refusal is on their row.
  const me = page.locator('tr[data-email="admin@vetted.test"]');
  await me.getByRole("button", { name: /^Make reviewer/ }).click();
  await expect(me.getByTestId("row-message")).toContainText("last enabled admin");
});

test("an admin creates a key bound to a merchant, sees its secret once, and revokes it", async ({ page, context }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  const stamp = Date.now().toString(36);
  const name = `e2e key ${stamp}`;
  await openAdminPage(page, "/admin/keys");
  await expectAccessible(page);

  const form = page.getByTestId("create-key-form");
  await form.getByLabel(/^Name/).fill(name);
  // A merchant id is digits (the browser refuses anything else); one that does not exist is
  // refused by the server, next to the field.
  const merchant = form.getByLabel(/^Merchant id/);
  await merchant.fill("abc");
  expect(await merchant.evaluate((el: HTMLInputElement) => el.validity.patternMismatch)).toBe(true);
  await merchant.fill("999999");
  await page.getByTestId("create-key").click();
  await expect(form).toContainText("There is no merchant 999999");
  await merchant.fill("1");
  await page.getByTestId("create-key").click();

  const panel = page.getByTestId("secret-panel");
  await expect(panel).toContainText("will not be shown again");
  const secret = await page.getByTestId("secret-value").inputValue();
  expect(secret).toMatch(/^vtd_[0-9a-f]{64}$/);
  await page.getByTestId("copy-secret").click();
  await expect(panel).toContainText("Copied.");
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  await expectAccessible(page);

  // The key sends merchant 1's transactions, and no other merchant's.
  const sale = (merchant: number, id: string) => ({
    external_id: id, merchant_id: merchant, amount: 1999, currency: "USD", buyer_email: `${id}@example.com`,
    buyer_ip: "198.51.100.7", ip_country: "US", card_fingerprint: `fp_${id}`, card_country: "US",
  });
  const headers = { Authorization: `Bearer ${secret}` };
  expect((await page.request.post("/api/v1/transactions", { headers, data: sale(1, `k1-${stamp}`) })).status()).toBe(201);
  const refused = await page.request.post("/api/v1/transactions", { headers, data: sale(2, `k2-${stamp}`) });
  expect(refused.status()).toBe(403);
  expect((await refused.json()).error.code).toBe("merchant_not_allowed");

  // Once dismissed (or after a reload), the secret is nowhere on the page.
  await page.getByTestId("dismiss-secret").click();
  await expect(panel).toBeHidden();
  await page.reload();
  await hydrated(page);
  expect(await page.content()).not.toContain(secret);
  const row = page.locator("tr", { hasText: name });
  await expect(row).toContainText("merchant 1");
  await expect(row).toContainText("Active");
  await expect(row).toContainText(/just now|min ago/);

  await row.getByRole("button", { name: `Revoke ${name}` }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText("cannot be undone");
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await page.getByTestId("confirm-revoke").click();
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId("keys-status")).toContainText(`Revoked "${name}"`);
  await expect(row).toContainText("Revoked");
  expect((await page.request.post("/api/v1/transactions", { headers, data: sale(1, `k3-${stamp}`) })).status()).toBe(401);
});

test("the users and keys tables fit a 390 px screen", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  for (const path of ["/admin/users", "/admin/keys"]) {
    if (path === "/admin/users") await openAdminPage(page, path);
    else {
      await page.goto(path);
      await hydrated(page);
    }
    await expect(page.getByRole("table")).toBeVisible();
    // The page itself never scrolls sideways: a wide table scrolls inside its panel.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, path).toBeLessThanOrEqual(0);
    await expectAccessible(page);
  }
});
