import { test, expect, Page } from "@playwright/test";
import { signIn, hydrated, users, RoleName } from "./helpers";

// Layout on a phone (390 px) and a laptop (1280 px): the dashboard's panels keep their size when
// their data replaces the skeletons (no layout shift), and no page is wider than the screen.

const widths = [390, 1280];

/** Height of each panel's content (below its heading), by `data-panel`. */
async function contentHeights(page: Page, panels: string[]) {
  return page.evaluate(
    (ids) =>
      Object.fromEntries(
        ids.map((id) => [id, document.querySelector(`[data-panel="${id}"] > div`)!.getBoundingClientRect().height]),
      ),
    panels,
  );
}

for (const width of widths) {
  test(`at ${width} px the dashboard's skeletons are the size of the data that replaces them`, async ({ page }) => {
    await page.setViewportSize({ width, height: 900 });
    await signIn(page, "merchant");
    await expect(page).toHaveURL("/");
    await hydrated(page);

    // Come back to the dashboard inside the app with the panels' data held back: the skeletons show.
    await page.goto("/no-such-page");
    await hydrated(page);
    const held: Array<() => Promise<void>> = [];
    await page.route("**/rpc/dashboard/**", (route) => {
      held.push(() => route.continue());
    });
    await page.getByRole("link", { name: "Go home" }).click();
    await expect(page).toHaveURL("/");
    // The panels whose shape the server bounds: sales (three periods, one currency here), the
    // chart (its view box's proportions) and the held transactions (ten rows for this merchant).
    // The PayPal panel's shape depends on the account (disputes come and go), so it is left out.
    const panels = ["sales", "revenue", "fraud"];
    for (const id of panels) await expect(page.locator(`[data-panel="${id}"] [data-skeleton]`)).toHaveCount(1);
    await expect.poll(() => held.length).toBeGreaterThanOrEqual(panels.length);
    const skeletons = await contentHeights(page, panels);

    for (const release of held) await release();
    await page.unroute("**/rpc/dashboard/**");
    for (const id of panels) await expect(page.locator(`[data-panel="${id}"] [data-skeleton]`)).toHaveCount(0);
    await expect(page.locator('[data-panel="fraud"] tbody tr')).toHaveCount(10);
    const filled = await contentHeights(page, panels);

    for (const id of panels) {
      expect(Math.abs(filled[id] - skeletons[id]), `${id}: skeleton ${skeletons[id]} px, data ${filled[id]} px`).toBeLessThanOrEqual(1);
    }
  });
}

const homes: Array<[RoleName | null, string]> = [
  [null, "/login"],
  ["merchant", users.merchant.home],
  ["reviewer", users.reviewer.home],
  ["admin", users.admin.home],
];

for (const [role, path] of homes) {
  test(`at 390 px ${path} fits the screen's width${role ? ` (${role})` : ""}`, async ({ page }) => {
    await page.setViewportSize({ width: 390, height: 844 });
    if (role) {
      await signIn(page, role);
      await expect(page).toHaveURL(path);
    } else {
      await page.goto(path);
    }
    await hydrated(page);
    if (role === "merchant") await expect(page.locator("[data-skeleton]")).toHaveCount(0);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  });
}
