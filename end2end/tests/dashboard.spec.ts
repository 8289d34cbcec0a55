import { test, expect } from "@playwright/test";
import { signIn, hydrated, expectAccessible } from "./helpers";

test.beforeEach(async ({ page }) => {
  await signIn(page, "merchant");
  await expect(page).toHaveURL("/");
  await hydrated(page);
});

test("every dashboard panel fills in with the merchant's data", async ({ page }) => {
  const sales = page.locator('[data-panel="sales"]');
  await expect(sales.getByTestId("net-revenue")).toHaveCount(3);
  await expect(sales.getByTestId("net-revenue").nth(2)).toHaveText(/^\$[\d,]+\.\d\d$/);
  await expect(sales.locator("[data-skeleton]")).toHaveCount(0);

  const revenue = page.locator('[data-panel="revenue"]');
  await expect(revenue.getByRole("img", { name: /Daily net revenue/ })).toBeVisible();
  await expect(revenue.locator("svg rect")).toHaveCount(30);

  const fraud = page.locator('[data-panel="fraud"]');
  await expect(fraud.getByTestId("risk-state")).toHaveText("Compliant");
  await expect(fraud.getByTestId("in-review-count")).toHaveText(/^\d+$/);
  await expect(fraud.getByRole("table")).toBeVisible();

  await expect(page.locator('[data-panel="paypal"]').getByRole("heading", { name: "PayPal" })).toBeVisible();
  await expectAccessible(page);
});

test("the chart's metric toggle works in the browser (hydration)", async ({ page }) => {
  const revenue = page.locator('[data-panel="revenue"]');
  await expect(revenue.getByTestId("chart-caption")).toHaveText(/Net revenue per day/);
  await revenue.getByRole("button", { name: "Orders" }).click();
  await expect(revenue.getByTestId("chart-caption")).toHaveText(/Orders per day/);
  await expect(revenue.locator("svg")).toHaveAttribute("data-metric", "orders");
  await expect(revenue.getByRole("button", { name: "Orders" })).toHaveAttribute("aria-pressed", "true");
  await expect(revenue.getByRole("button", { name: "Revenue" })).toHaveAttribute("aria-pressed", "false");
});

test("pages of other roles are not reachable from the merchant's navigation", async ({ page }) => {
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Rules" })).toHaveCount(0);
  await expect(nav.getByRole("link", { name: "Review queue" })).toHaveCount(0);
});
