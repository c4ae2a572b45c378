// The web app in real Chromium against the zero-setup service started as
// `npm start` starts it: a fresh build of web/, served at `/`, signs in with the
// demo token, uploads two pictures (MD5 in the page, presigned PUT, confirm),
// shows their thumbnails from the WatchFiles stream, deletes one, and names the
// error a bad token gets. The page's screenshot is the README's docs/web-app.png
// (UPDATE_SCREENSHOTS=1 npx vitest run test/web/web-app.test.ts rewrites it).
import { exec } from "node:child_process";
import { promisify } from "node:util";
import { mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import sharp from "sharp";
import { freePort, REPO_ROOT, startServiceProcess, type ServiceProcess } from "../support/service-process.js";

const sh = promisify(exec);
let dir: string;
let service: ServiceProcess;
let base: string;
let browser: Browser;
let page: Page;
let generated: string;

beforeAll(async () => {
  // What `npm start` runs first (prestart) builds the missing web app.
  await rm(join(REPO_ROOT, "web/dist"), { recursive: true, force: true });
  await sh("node scripts/ensure-deps.mjs", { cwd: REPO_ROOT, env: { ...process.env, FILE_SERVICE_SKIP_INSTALL: "1" } });
  dir = await mkdtemp(join(tmpdir(), "fs-web-"));
  for (const entry of ["node_modules", "package.json", "tsconfig.json", "src", "gen", "web", "examples"]) {
    await symlink(join(REPO_ROOT, entry), join(dir, entry));
  }
  generated = join(dir, "generated.png");
  await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 40, g: 120, b: 200 } } })
    .composite([{ input: Buffer.from('<svg width="640" height="480"><circle cx="320" cy="240" r="160" fill="#f5a623"/></svg>') }])
    .png()
    .toFile(generated);
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  service = startServiceProcess({
    cwd: dir,
    env: { GRPC_PORT: String(grpcPort), HTTP_PORT: String(httpPort), SHUTDOWN_DRAIN_DELAY_MS: "0" },
  });
  await service.waitFor(/Try it:[\s\S]*Authorization: Bearer[^\n]*\n/, 60_000);
  // The page is opened at the URL the banner prints, as a person would.
  base = (await service.waitFor(/web app: +(http:\/\/\S+)\//))[1]!;
  expect(base).toBe(`http://localhost:${httpPort}`);
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  page = await browser.newPage({ viewport: { width: 900, height: 600 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (service && service.child.exitCode === null) {
    service.child.kill("SIGTERM");
    await service.exited;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the web build, served at /", () => {
  it("a fresh build of web/ is the page and its bundle, with their content types", async () => {
    expect((await stat(join(REPO_ROOT, "web/dist/assets/app.js"))).size).toBeGreaterThan(1000);
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await index.text()).toContain('src="/assets/app.js"');
    const script = await fetch(`${base}/assets/app.js`);
    expect(script.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(await script.text()).toBe(await readFile(join(REPO_ROOT, "web/dist/assets/app.js"), "utf8"));
    expect((await fetch(`${base}/assets/app.css`)).headers.get("content-type")).toMatch(/^text\/css/);
  });

  it("an unknown path is a 404, not the page, and RPC paths still need a token", async () => {
    for (const path of ["/nope", "/assets/missing.js", "/file.v1.FileService/NoSuchMethod", "/assets/..%2Fpackage.json"]) {
      const response = await fetch(`${base}${path}`);
      expect(response.status, path).toBe(404);
      expect(await response.text(), path).not.toContain("<html");
    }
    const rpc = await fetch(`${base}/file.v1.FileService/ListFiles`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    expect(rpc.status).toBe(401);
    expect(((await rpc.json()) as { code: string }).code).toBe("unauthenticated");
    // CORS for RPCs is as before: the dev origins' preflight is answered for Connect with a token.
    const preflight = await fetch(`${base}/file.v1.FileService/ListFiles`, {
      method: "OPTIONS",
      headers: { Origin: "http://localhost:5173", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
  });
});

describe("the photo app in Chromium", () => {
  it("signs in with the demo token, uploads two pictures and shows their thumbnails", async () => {
    await page.goto(`${base}/`);
    await page.getByText("signed in as the demo user").waitFor({ timeout: 15_000 });
    await page.setInputFiles("#picker", [join(REPO_ROOT, "examples/photo.jpg"), generated]);
    const thumbs = page.locator(".card img.thumb");
    await expect.poll(() => thumbs.count(), { timeout: 60_000 }).toBe(2);
    await expect
      .poll(() => thumbs.evaluateAll((imgs) => imgs.map((i) => (i as unknown as { naturalWidth: number }).naturalWidth)), { timeout: 20_000 })
      .toEqual([expect.any(Number), expect.any(Number)]);
    const widths = await thumbs.evaluateAll((imgs) => imgs.map((i) => (i as unknown as { naturalWidth: number }).naturalWidth));
    expect(widths.every((w) => w > 0)).toBe(true);
    // Each card's progress bar reached the whole file.
    expect(await page.locator(".card").evaluateAll((cards) => cards.map((c) => (c as unknown as { dataset: Record<string, string> }).dataset.progress))).toEqual(["100", "100"]);
    // The blurhash placeholders were painted under the thumbnails.
    expect(await page.locator(".card canvas").count()).toBe(2);
    expect(await page.locator(".error").count()).toBe(0);
    // Taken every run (a page that cannot render fails here); written over the README's picture
    // only on request, so a test run leaves the tree as it found it.
    const shot = await page.screenshot();
    if (process.env.UPDATE_SCREENSHOTS === "1") await writeFile(join(REPO_ROOT, "docs/web-app.png"), shot);
  }, 120_000);

  it("opens the original through a download URL", async () => {
    const [popup] = await Promise.all([page.waitForEvent("popup"), page.locator(".card").first().getByText("Open").click()]);
    await popup.waitForLoadState();
    const width = await popup.evaluate<number>('document.querySelector("img")?.naturalWidth ?? 0');
    expect(width).toBeGreaterThan(0);
    await popup.close();
  });

  it("deletes a picture: its card goes, and stays gone after a reload", async () => {
    const card = page.locator(".card").filter({ hasText: "generated.png" });
    await card.getByText("Delete").click();
    await expect.poll(() => page.locator(".card").count()).toBe(1);
    await page.reload();
    await page.getByText("signed in as the demo user").waitFor();
    await expect.poll(() => page.locator(".card img.thumb").count(), { timeout: 15_000 }).toBe(1);
    expect(await page.locator(".card").filter({ hasText: "generated.png" }).count()).toBe(0);
  });

  it("names the error a bad token gets", async () => {
    await page.fill("#token", "not-a-token");
    await page.click("#token-form button");
    const error = page.locator(".error");
    await error.first().waitFor();
    expect(await error.first().textContent()).toMatch(/^unauthenticated: \S/);
    expect(await page.locator(".card").count()).toBe(0);
  });
});
