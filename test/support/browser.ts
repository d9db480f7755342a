/** Headless Chromium (the system's) driven by playwright-core, for the desk tests. */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

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
