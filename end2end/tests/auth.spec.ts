import { test, expect } from "@playwright/test";
import { users, signIn, hydrated, expectAccessible, RoleName } from "./helpers";

for (const role of Object.keys(users) as RoleName[]) {
  test(`${role} signs in, lands on their home page and sees their navigation`, async ({ page }) => {
    await signIn(page, role);
    await expect(page).toHaveURL(users[role].home);
    const nav = page.getByRole("navigation", { name: "Main" });
    await expect(nav.getByRole("link")).toHaveText([...users[role].nav]);
    await expect(page.getByTestId("signed-in-as")).toContainText(role === "merchant" ? "Merchant" : role === "reviewer" ? "Reviewer" : "Admin");
    await expectAccessible(page);
  });
}

test("a wrong password is refused with a clear message and no session", async ({ page }) => {
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Email").fill(users.merchant.email);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("login-error")).toHaveText("That email and password do not match an account.");
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
});

test("the login page is accessible", async ({ page }) => {
  await page.goto("/login");
  await hydrated(page);
  await expectAccessible(page);
});

test("an anonymous visitor is sent to login and then back where they were going", async ({ page }) => {
  await page.goto("/admin/rules");
  await expect(page).toHaveURL(/\/login\?next=\/admin\/rules$/);
  await signIn(page, "admin", "/login?next=/admin/rules");
  await expect(page).toHaveURL("/admin/rules");
  await expect(page.getByRole("heading", { name: "Fraud rules" })).toBeVisible();
});

test("a merchant opening an admin page gets 403 and no admin content", async ({ page }) => {
  await signIn(page, "merchant");
  await expect(page).toHaveURL("/");
  const response = await page.goto("/admin/rules");
  expect(response?.status()).toBe(403);
  await expect(page.getByRole("heading", { name: "You don't have access to this page" })).toBeVisible();
  await expect(page.getByText("Fraud rules")).toHaveCount(0);
  await expectAccessible(page);
});

test("signing out ends the session on the server, not just in the browser", async ({ page, context }) => {
  await signIn(page, "reviewer");
  await expect(page).toHaveURL("/queue");
  const before = (await context.cookies()).find((c) => c.name === "vetted_session");
  expect(before).toBeTruthy();

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto("/queue");
  await expect(page).toHaveURL(/\/login\?next=\/queue$/);

  // Replaying the old cookie must not bring the session back.
  const replay = await page.request.get("/queue", {
    headers: { cookie: `vetted_session=${before!.value}` },
    maxRedirects: 0,
  });
  expect(replay.status()).toBe(303);
  expect(replay.headers()["location"]).toContain("/login");
});
