// Lighthouse on the studio's pages, signed in, on the mobile and desktop profiles (simulated throttling).
//
//   cd bench/lighthouse && npm ci
//   CHROME_PATH=/usr/bin/chromium node run.mjs http://127.0.0.1:8020 EMAIL PASSWORD /generate/ /gallery/ /chat/
//
// It signs in through the sign-in form, so the session cookie sits in Chromium's cookie jar. (Passing it with
// --extra-headers is not the same: the first response sets the CSRF cookie, and from then on Chromium sends the
// jar's cookies, without the session, on every request the page makes, so the page's fragments and images find
// no session.) Each page and profile gets a fresh Chromium with an empty cache. One JSON line per run; with
// LIGHTHOUSE_OUT=dir each full report is written there too.
import * as chromeLauncher from "chrome-launcher";
import lighthouse, { desktopConfig } from "lighthouse";
import puppeteer from "puppeteer-core";
import fs from "node:fs";

const [base, email, password, ...paths] = process.argv.slice(2);
if (!base || !email || !password || !paths.length) {
  console.error("usage: node run.mjs BASE_URL EMAIL PASSWORD PATH...");
  process.exit(2);
}
const out = process.env.LIGHTHOUSE_OUT;

async function signIn(port) {
  const browser = await puppeteer.connect({ browserURL: `http://127.0.0.1:${port}` });
  const page = await browser.newPage();
  await page.goto(`${base}/accounts/login/`);
  await page.type("input[name=login]", email);
  await page.type("input[name=password]", password);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  if (page.url().includes("/accounts/login/")) throw new Error("Sign-in failed.");
  const cdp = await page.createCDPSession();
  await cdp.send("Network.clearBrowserCache");
  await page.close();
  await browser.disconnect();
}

// One run in a fresh Chromium; a run whose trace came out broken (NO_NAVSTART, now and then) is run again.
async function measure(path, form, tries = 3) {
  const chrome = await chromeLauncher.launch({ chromeFlags: ["--headless=new", "--no-sandbox"] });
  try {
    await signIn(chrome.port);
    const flags = { port: chrome.port, onlyCategories: ["performance"], disableStorageReset: true, logLevel: "error" };
    const result = await lighthouse(base + path, flags, form === "desktop" ? desktopConfig : undefined);
    if (!result.lhr.runtimeError) return result;
    if (tries <= 1) throw new Error(`${path} ${form}: ${result.lhr.runtimeError.message}`);
  } finally {
    await chrome.kill();
  }
  return measure(path, form, tries - 1);
}

for (const path of paths) {
  for (const form of ["mobile", "desktop"]) {
    const result = await measure(path, form);
    const audits = result.lhr.audits;
    const requests = audits["network-requests"].details.items;
    console.log(JSON.stringify({
      path,
      form,
      performance: result.lhr.categories.performance.score,
      cls: +audits["cumulative-layout-shift"].numericValue.toFixed(4),
      tbt_ms: Math.round(audits["total-blocking-time"].numericValue),
      fcp_ms: Math.round(audits["first-contentful-paint"].numericValue),
      lcp_ms: Math.round(audits["largest-contentful-paint"].numericValue),
      // Bytes on the wire: gzip (or brotli) as served.
      js_kb: +(requests.filter((r) => r.resourceType === "Script").reduce((sum, r) => sum + (r.transferSize || 0), 0) / 1024).toFixed(1),
      redirected: requests.filter((r) => r.statusCode >= 300 && r.statusCode < 400).map((r) => r.url),
    }));
    if (out) fs.writeFileSync(`${out}/${form}-${path.replace(/\W+/g, "-").replace(/^-|-$/g, "") || "home"}.json`, result.report);
  }
}
