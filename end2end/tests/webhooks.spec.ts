import { test, expect, Page } from "@playwright/test";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import { signIn, hydrated, expectAccessible } from "./helpers";

/** A receiver on loopback that records each delivery's event type and answers 200. */
async function receiver(): Promise<{ url: string; types: string[]; close: () => void }> {
  const types: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      types.push(JSON.parse(body).type);
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("received");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/vetted`, types, close: () => server.close() };
}

async function openWebhooks(page: Page) {
  await signIn(page, "admin");
  await expect(page).toHaveURL("/admin/rules");
  await page.goto("/admin/webhooks");
  await hydrated(page);
}

test("an admin registers an endpoint, sees its secret once, and the platform hears of a list change", async ({ page }) => {
  const hook = await receiver();
  await openWebhooks(page);
  await expectAccessible(page);

  // A private address is refused with the reason, nothing registered.
  const form = page.getByTestId("create-webhook-form");
  await form.getByLabel("URL").fill("https://10.0.0.7/hooks");
  await form.getByLabel("list.entry_added").check();
  await page.getByTestId("create-webhook").click();
  await expect(form.getByRole("alert")).toContainText("10.0.0.7 is a private address");

  await form.getByLabel("URL").fill(hook.url);
  await form.getByLabel("Description").fill("fraud tooling at the platform");
  await form.getByLabel("case.resolved").check();
  await page.getByTestId("create-webhook").click();
  await expect(page.getByTestId("webhooks-status")).toContainText(`Registered ${hook.url}`);
  // The secret is shown this once, and the focus goes to it.
  await expect(page.getByRole("heading", { name: `Signing secret for ${hook.url}` })).toBeFocused();
  await expect(page.getByTestId("secret-value")).toHaveValue(/^whsec_[0-9a-f]{64}$/);
  const card = page.locator("li[data-endpoint-id]").filter({ hasText: hook.url });
  await expect(card).toContainText("Delivering");
  await expect(card).toContainText("list.entry_added");
  await expectAccessible(page);

  // A test event, by keyboard; then a real change: an entry on a list.
  await card.getByTestId("send-test").focus();
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("webhooks-status")).toContainText(/Test event delivered to .*: 200 in \d+ ms/);
  const added = await page.request.post("/rpc/admin/add_list_entry", {
    data: { list: "blocked_emails", value: `hooked-${Date.now()}@example.com`, reason: "e2e", expires_at: null },
  });
  expect(added.status()).toBe(200);
  await expect.poll(() => hook.types.includes("list.entry_added"), { timeout: 10_000 }).toBe(true);

  // The delivery log shows both, newest first, each with its answer.
  await card.getByTestId("open-log").click();
  const log = page.getByTestId("attempts-table");
  await expect(log).toContainText("list.entry_added");
  await expect(log).toContainText("test");
  await expect(log).toContainText("received");
  await expectAccessible(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.setViewportSize({ width: 390, height: 844 });

  // Rotation shows a new secret; disabling shows the state.
  await card.getByTestId("rotate-secret").click();
  await expect(page.getByTestId("webhooks-status")).toContainText("The old one keeps signing for 24 hours");
  await card.getByTestId("toggle-endpoint").click();
  await expect(card).toContainText("Disabled: disabled by an admin");
  hook.close();
});
