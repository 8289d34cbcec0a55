import { expect, Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";

export const users = {
  merchant: { email: "merchant@vetted.test", password: "vetted-merchant-demo", home: "/", nav: ["Dashboard"] },
  reviewer: { email: "reviewer@vetted.test", password: "vetted-reviewer-demo", home: "/queue", nav: ["Review queue"] },
  admin: {
    email: "admin@vetted.test",
    password: "vetted-admin-demo",
    home: "/admin/rules",
    nav: ["Review queue", "Rules", "Lists", "Users", "API keys", "Webhooks", "Audit log"],
  },
} as const;

export type RoleName = keyof typeof users;

/** Waits until the wasm bundle has hydrated the page (set by an effect in App). */
export async function hydrated(page: Page) {
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

export async function signIn(page: Page, role: RoleName, path = "/login") {
  const user = users[role];
  await page.goto(path);
  await hydrated(page);
  await page.getByLabel("Email").fill(user.email);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** axe-core: no serious or critical violation on the current page. */
export async function expectAccessible(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`)).toEqual([]);
}
