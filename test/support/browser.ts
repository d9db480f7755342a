/** Headless Chromium (the system's) driven by playwright-core, for the desk tests. */
import { existsSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";

/** CHROMIUM_PATH, else where Debian, Ubuntu and Fedora put it. */
const CANDIDATES = process.env.CHROMIUM_PATH
  ? [process.env.CHROMIUM_PATH]
  : ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

export class ChromiumMissingError extends Error {
  override readonly name = "ChromiumMissingError";
}

/** Launches it, or fails (never skips) with one line saying how to get it. */
export function launchBrowser(): Promise<Browser> {
  const executablePath = CANDIDATES.find((p) => existsSync(p));
  if (!executablePath)
    throw new ChromiumMissingError(
      `the desk tests need Chromium and none is at ${CANDIDATES.join(", ")}: install it ` +
        "(Debian: apt-get install chromium) or set CHROMIUM_PATH to a Chromium or Chrome",
    );
  return chromium.launch({
    executablePath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * Signs in to the desk at `base` with `token` in a new context `width` px wide, collecting what
 * went wrong on the page from then on: console errors, uncaught exceptions, answers of 400 and up.
 */
export async function signInWatching(
  browser: Browser,
  base: string,
  token: string,
  width = 1280,
): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width, height: 844 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`${m.text()} at ${m.location().url}`);
  });
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("response", (r) => {
    if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
  });
  await page.goto(`${base}/desk/login`);
  await page.fill("input[name=token]", token);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/desk(\/rules)?$/);
  return { page, errors };
}
