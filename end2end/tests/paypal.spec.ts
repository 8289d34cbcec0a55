import { test, expect } from "@playwright/test";
import { signIn, hydrated, expectAccessible } from "./helpers";

// The e2e server runs the PayPal simulator in process on this address (scripts/e2e-server.sh).
const SIMULATOR = "http://127.0.0.1:3105";

test.beforeEach(async ({ page }) => {
  await signIn(page, "merchant");
  await expect(page).toHaveURL("/");
  await hydrated(page);
});

test.afterEach(async ({ request }) => {
  await request.post(`${SIMULATOR}/__sim/knobs`, { data: { outage: false } });
});

test("the PayPal panel fills in from the background sync and shows its age", async ({ page }) => {
  const panel = page.locator('[data-panel="paypal"]');
  // The first visit finds no data, queues a priority sync and re-reads until it lands.
  await expect(panel.getByTestId("paypal-balances")).toBeVisible({ timeout: 20_000 });
  await expect(panel.getByTestId("paypal-age")).toHaveText(/^Updated (just now|\d+ min ago)/);
  await expect(panel.getByTestId("paypal-balances").locator("dd").first()).toHaveText(/^\$[\d,]+\.\d\d$/);
  await expect(panel.getByTestId("paypal-transactions").locator("tbody tr")).not.toHaveCount(0);
  await expect(panel.getByTestId("paypal-degraded")).toHaveCount(0);
  await expectAccessible(page);
});

test("the degraded banner appears when PayPal is switched off, with the last-known data", async ({ page, request }) => {
  const panel = page.locator('[data-panel="paypal"]');
  await expect(panel.getByTestId("paypal-balances")).toBeVisible({ timeout: 20_000 });
  const balances = (await panel.getByTestId("paypal-balances").textContent()) ?? "";

  const off = await request.post(`${SIMULATOR}/__sim/knobs`, { data: { outage: true } });
  expect(off.ok()).toBeTruthy();
  await panel.getByRole("button", { name: "Refresh" }).click();
  await expect(panel.getByTestId("paypal-refresh-status")).toContainText("Refresh requested");

  const banner = panel.getByTestId("paypal-degraded");
  await expect(banner).toBeVisible({ timeout: 20_000 });
  await expect(banner).toContainText(/PayPal unreachable since \d\d:\d\d UTC — showing data from \d\d:\d\d UTC/);
  await expect(panel.getByTestId("paypal-balances")).toHaveText(balances);

  // Pressing again at once is refused with a clear wait time.
  await panel.getByRole("button", { name: "Refresh" }).click();
  await expect(panel.getByTestId("paypal-refresh-status")).toContainText(/Try again in \d+ seconds/);
  await expectAccessible(page);
});
