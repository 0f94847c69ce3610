// Browser tests of the built page (web/dist) in Debian's headless Chromium, driven by playwright-core.
//
// Serves web/dist on 127.0.0.1 itself, records every request each page makes and fails a test when
// one goes anywhere but the page's own files (blob: and data: URLs are not network requests).
// Env: ASTRO_UPGRADE_BIN  the `astro-upgrade` binary, for the plan-equality test (required)
//      TEST_FILTER        run only the tests whose name contains this text
//      CHROMIUM           the browser (default /usr/bin/chromium)
// Prints "N passed, M failed" and exits non-zero when anything failed. Screenshots and measurements
// go to tests/browser/artifacts/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const dist = join(root, 'web/dist');
const artifacts = join(here, 'artifacts');
const examplesDir = join(root, 'examples');
mkdirSync(artifacts, { recursive: true });

// ---------- the examples, as the page embeds them ----------
const examples = readdirSync(examplesDir)
  .filter((name) => statSync(join(examplesDir, name)).isDirectory())
  .sort()
  .map((name) => {
    const dir = join(examplesDir, name);
    const files = readdirSync(dir)
      .filter((file) => file !== 'expected.json' && !file.startsWith('.') && statSync(join(dir, file)).isFile())
      .sort()
      .map((file) => ({ name: file, text: readFileSync(join(dir, file), 'utf8') }));
    const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
    return { name, dir, files, expected };
  });

// ---------- a static server for web/dist ----------
const mime = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };
const distFiles = new Set(readdirSync(dist));
const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
  const name = path === '/' ? 'index.html' : path.slice(1);
  if (!distFiles.has(name)) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': mime[extname(name)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
  res.end(readFileSync(join(dist, name)));
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const origin = `http://127.0.0.1:${server.address().port}`;
const singleFileUrl = pathToFileURL(join(dist, 'astro-upgrade-planner.html')).href;

// ---------- the browser ----------
const userDataDir = mkdtempSync(join(tmpdir(), 'astro-upgrade-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  acceptDownloads: true,
  viewport: { width: 1280, height: 900 },
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
  ],
});

/** Every request of every page, and every console error, checked after each test. */
const offences = [];
function isOwnFile(url) {
  if (url.startsWith('data:') || url.startsWith('blob:')) return true;
  if (url === singleFileUrl) return true;
  if (!url.startsWith(`${origin}/`)) return false;
  const name = new URL(url).pathname.slice(1);
  return name === '' || distFiles.has(name);
}
async function openPage(url = `${origin}/`) {
  const page = await context.newPage();
  page.on('request', (request) => {
    if (!isOwnFile(request.url())) offences.push(`request to ${request.url()}`);
  });
  page.on('console', (message) => {
    if (message.type() === 'error') offences.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => offences.push(`page error: ${error.message}`));
  await page.goto(url);
  await page.waitForSelector('#verdict');
  return page;
}

// ---------- helpers ----------
function assert(condition, message) {
  if (!condition) throw new Error(message);
}
function assertEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}
/** The first place two JSON values differ, as `path: a ≠ b`; null when they are equal. */
function firstDifference(a, b, path = '$') {
  if (JSON.stringify(a) === JSON.stringify(b)) return null;
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const found = firstDifference(a[key], b[key], `${path}.${key}`);
      if (found) return found;
    }
  }
  return `${path}: ${JSON.stringify(a)?.slice(0, 300)} ≠ ${JSON.stringify(b)?.slice(0, 300)}`;
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Waits until the page has evaluated and stayed quiet (typing is debounced by 150 ms). */
async function settle(page) {
  let last = await page.evaluate(() => document.body.dataset.evalCount);
  for (;;) {
    await page.waitForTimeout(350);
    const now = await page.evaluate(() => document.body.dataset.evalCount);
    if (now === last) return;
    last = now;
  }
}

async function result(page) {
  await settle(page);
  return page.evaluate(() => ({
    verdict: document.querySelector('#verdict').textContent.trim(),
    cards: [...document.querySelectorAll('[data-check]')].map((card) => [card.dataset.check, card.dataset.status]),
  }));
}

function verdictWord(text) {
  return ['NO-GO', 'GO', 'INCOMPLETE'].find((word) => text.startsWith(word)) ?? `?? ${text}`;
}

function checkExpected(example, outcome, way) {
  assertEqual(verdictWord(outcome.verdict), example.expected.verdict, `${example.name} (${way}) verdict`);
  const failing = outcome.cards.filter(([, status]) => status === 'fail').map(([check]) => check).sort();
  assertEqual(failing, [...example.expected.failing_checks].sort(), `${example.name} (${way}) failing checks`);
}

async function setAcks(page, example) {
  await settle(page);
  const acks = example.expected.acks ?? [];
  for (const ack of acks) {
    const [name, value = ''] = ack.split(/=(.*)/s);
    if (name === 'database-backup') {
      await page.check('#ack-backup');
      await page.fill('#ack-backup-ref', value);
    } else if (name === 'system-admin') {
      await page.check('#ack-system-admin');
    } else if (name === 'known-crashing') {
      for (const pod of value.split(',').map((p) => p.trim())) {
        await page.check(`input[data-pod="${pod}"]`);
      }
    } else if (name === 'mirrors') {
      await page.fill('#ack-mirrors', value);
    } else if (name === 'helm-repo') {
      await page.fill('#ack-helm-repo', value);
    } else {
      throw new Error(`unknown acknowledgement ${ack} in ${example.name}/expected.json`);
    }
  }
  if (example.expected.air_gapped) await page.check('#ack-air-gapped');
}

async function fillBoxes(page, example) {
  for (const file of example.files) {
    const box = page.locator(`section.box[data-file="${file.name}"] textarea`);
    assert((await box.count()) === 1, `no box for ${example.name}/${file.name}`);
    await box.fill(file.text);
  }
}

/** The example's files as one terminal session: a `$ command` line before each piece that has none. */
async function transcriptOf(page, example) {
  const commands = await page.evaluate(() =>
    Object.fromEntries([...document.querySelectorAll('section.box[data-file]')].map((box) => [box.dataset.file, box.dataset.command])));
  return example.files
    .map((file) => {
      const firstLine = file.text.split('\n').find((line) => line.trim() !== '') ?? '';
      const prompted = /^\s*(\$|❯|PS [A-Z]:\\>|\S+@\S+:.*\$)\s/.test(firstLine);
      const command = commands[file.name];
      return prompted || !command ? file.text.trimEnd() : `$ ${command}\n${file.text.trimEnd()}`;
    })
    .join('\n');
}

function cliPlan(example, extra = []) {
  const bin = process.env.ASTRO_UPGRADE_BIN;
  assert(bin, 'ASTRO_UPGRADE_BIN is not set');
  const args = ['plan', '--paste', example.dir, '--output', 'json', ...extra];
  for (const ack of example.expected.acks ?? []) args.push('--ack', ack);
  if (example.expected.air_gapped) args.push('--air-gapped');
  let stdout;
  try {
    stdout = execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    // `plan` exits 3 or 4 for NO-GO and INCOMPLETE plans and still prints the plan.
    stdout = error.stdout;
  }
  return stdout;
}

async function download(page, selector) {
  const [file] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  return readFileSync(await file.path(), 'utf8');
}

function podsPaste(count) {
  const lines = ['NAMESPACE     NAME                                   READY   STATUS    RESTARTS   AGE'];
  for (let i = 0; i < count; i++) {
    const status = i % 97 === 5 ? 'CrashLoopBackOff' : 'Running';
    const ready = status === 'Running' ? '1/1' : '0/1';
    lines.push(`astronomer    astronomer-worker-${String(i).padStart(4, '0')}-7d9f8c6b5-x${i % 10}kq2   ${ready}     ${status}   ${i % 7}          3d`);
  }
  return lines.join('\n') + '\n';
}

// ---------- the tests ----------
const tests = [];
const test = (name, body) => tests.push({ name, body });
const measurements = {};

const goExample = examples.find((e) => e.expected.verdict === 'GO');
const noGoExample = examples.find((e) => e.expected.verdict === 'NO-GO');

test('page starts INCOMPLETE with one card per check, and every control has a label', async () => {
  const page = await openPage();
  const outcome = await result(page);
  assertEqual(verdictWord(outcome.verdict), 'INCOMPLETE', 'empty page verdict');
  assert(outcome.cards.length > 0, 'no check cards on the empty page');
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('textarea, input:not([type=file])')]
      .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label'))
      .map((el) => el.id || el.outerHTML));
  assertEqual(unlabelled, [], 'controls without a label');
  const commands = await page.locator('section.box[data-file="can-i.txt"] pre').textContent();
  assertEqual(commands.split('\n').filter((line) => line.startsWith('kubectl auth can-i create')).length, 8, 'can-i create commands shown');
  assert(commands.split('\n').includes("kubectl auth can-i '*' '*' --all-namespaces"), 'the escalation question is shown');
  await page.close();
});

for (const example of examples) {
  test(`${example.name}: pasted box by box gives ${example.expected.verdict}`, async () => {
    const page = await openPage();
    await fillBoxes(page, example);
    await setAcks(page, example);
    checkExpected(example, await result(page), 'boxes');
    await page.close();
  });
  test(`${example.name}: pasted as one transcript gives ${example.expected.verdict}`, async () => {
    const page = await openPage();
    await page.fill('#transcript', await transcriptOf(page, example));
    await setAcks(page, example);
    checkExpected(example, await result(page), 'transcript');
    await page.close();
  });
  test(`${example.name}: example button, and the exported plan equals astro-upgrade plan`, async () => {
    const page = await openPage();
    await page.click(`button[data-example="${example.name}"]`);
    checkExpected(example, await result(page), 'button');
    const exportedText = await download(page, '#export-json');
    const cliText = cliPlan(example);
    const exported = JSON.parse(exportedText);
    const cli = JSON.parse(cliText);
    assert(typeof exported.created_at === 'string' && exported.created_at !== '', 'exported plan has no created_at');
    delete exported.created_at;
    delete cli.created_at;
    const difference = firstDifference(exported, cli);
    assert(difference === null, `${example.name} plan, page ≠ CLI at ${difference}`);
    const shownDigest = (await page.textContent('#plan-digest')).trim();
    assert(shownDigest === exported.plan_digest, `${example.name}: the page shows digest ${shownDigest}, the exported plan has ${exported.plan_digest}`);
    const withoutTime = (text) => text.replace(/"created_at": "[^"]*"/, '"created_at": ""').trimEnd();
    assert(withoutTime(exportedText) === withoutTime(cliText), `${example.name}: same plan, but not the same text as the CLI's`);
    const markdown = await download(page, '#export-markdown');
    assert(markdown.includes(example.expected.verdict), 'Markdown plan does not state the verdict');
    await page.close();
  });
}

test('the upgrader options: the page\'s controls give the plan astro-upgrade plan writes with the same flags', async () => {
  const failed = examples.find((e) => e.name === 'airflow-release-failed');
  assert(failed, 'no airflow-release-failed example');
  const page = await openPage();
  await page.click(`button[data-example="${failed.name}"]`);
  const before = await result(page);
  assertEqual(verdictWord(before.verdict), 'NO-GO', 'a failed Airflow release before the options');
  await page.fill('#option-commander-timeout', '15 minutes');
  await settle(page);
  assert((await page.locator('#upgrader-options .field-error').count()) === 1, 'a timeout in words is refused');
  await page.fill('#option-commander-timeout', '900');
  await page.check('#option-disable-deployment-upgrades');
  const after = await result(page);
  assertEqual(verdictWord(after.verdict), 'GO', 'steps (5/6) and (6/6) skipped: the failed release only warns');
  const exported = JSON.parse(await download(page, '#export-json'));
  const cli = JSON.parse(cliPlan(failed, ['--commander-upgrade-timeout', '900', '--disable-deployment-upgrades']));
  assertEqual(exported.upgrader_options, { commander_upgrade_timeout: 900, disable_deployment_upgrades: true }, 'the options in the exported plan');
  delete exported.created_at;
  delete cli.created_at;
  const difference = firstDifference(exported, cli);
  assert(difference === null, `options plan, page ≠ CLI at ${difference}`);
  await page.close();
});

test('clicking a crashing pod\'s evidence selects that line in the pods box and shows it', async () => {
  const crashing = examples.find((e) => e.name === 'crashing-pods');
  assert(crashing, 'no crashing-pods example');
  const page = await openPage();
  await fillBoxes(page, crashing);
  await setAcks(page, crashing);
  await settle(page);
  const link = page.locator('[data-check="pod-health"][data-status="fail"] .item[data-status="fail"] .evidence-link').first();
  assert((await link.count()) === 1, 'no evidence link on a failing card');
  const source = await link.getAttribute('data-source');
  const line = Number(await link.getAttribute('data-line'));
  await link.click();
  const seen = await page.evaluate(() => {
    const el = document.activeElement;
    return {
      file: el.closest('section.box')?.dataset.file,
      selected: el.value?.substring(el.selectionStart, el.selectionEnd),
      lines: el.value?.split('\n'),
      mark: document.querySelector('mark.highlighted-line')?.textContent,
    };
  });
  assertEqual(seen.file, source, 'focused box');
  const expectedLine = seen.lines[line - 1].replace(/\r$/, '');
  assertEqual(seen.selected, expectedLine, `selected text of ${source} line ${line}`);
  assert(/CrashLoopBackOff|Error|ImagePull|Pending|\b0\/\d/.test(expectedLine), `line ${line} is not an unhealthy pod: ${expectedLine}`);
  assert(seen.mark?.includes(expectedLine.trim()), `highlighted excerpt ${JSON.stringify(seen.mark)} lacks line ${line}`);
  await page.close();
});

test('keyboard alone: Tab to an example, Enter loads it, Tab reaches the evidence boxes', async () => {
  const page = await openPage();
  for (let i = 0; i < 10 && !(await page.evaluate(() => document.activeElement.matches('button.example'))); i++) {
    await page.keyboard.press('Tab');
  }
  const name = await page.evaluate(() => document.activeElement.dataset.example);
  assert(name, 'Tab never reached an example button');
  await page.keyboard.press('Enter');
  const example = examples.find((e) => e.name === name);
  checkExpected(example, await result(page), 'keyboard');
  await page.focus('#transcript');
  await page.keyboard.press('Tab');
  assert(await page.evaluate(() => document.activeElement.tagName !== 'BODY'), 'focus lost after the transcript box');
  await page.close();
});

test('copy buttons put the box command and the plan\'s commands on the clipboard', async () => {
  assert(goExample, 'no GO example');
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  const page = await openPage();
  await page.click('section.box[data-file="can-i.txt"] button.copy');
  const canI = await page.evaluate(() => navigator.clipboard.readText());
  assertEqual(canI.split('\n').length, 9, 'copied can-i commands');
  assertEqual(canI.split('\n')[8], "kubectl auth can-i '*' '*' --all-namespaces", 'copied escalation question');
  await page.click(`button[data-example="${goExample.name}"]`);
  await settle(page);
  const plan = JSON.parse(await download(page, '#export-json'));
  await page.click('#copy-commands');
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  const expected = plan.steps
    .filter((step) => step.commands.length > 0)
    .map((step) => `# ${step.title}\n${step.commands.join('\n')}\n`)
    .join('');
  assert(expected.length > 0, 'the GO plan has no commands');
  assertEqual(copied, expected, 'copied plan commands');
  await page.close();
});

test('the print stylesheet keeps the verdict and checks and drops the inputs', async () => {
  assert(noGoExample, 'no NO-GO example');
  const page = await openPage();
  await page.click(`button[data-example="${noGoExample.name}"]`);
  await settle(page);
  await page.emulateMedia({ media: 'print' });
  const shown = await page.evaluate(() => ({
    inputs: getComputedStyle(document.querySelector('.inputs')).display,
    buttons: getComputedStyle(document.querySelector('.export .buttons')).display,
    verdict: getComputedStyle(document.querySelector('#verdict')).display,
    cards: getComputedStyle(document.querySelector('[data-check]')).display,
  }));
  assertEqual([shown.inputs, shown.buttons], ['none', 'none'], 'inputs and buttons in print');
  assert(shown.verdict !== 'none' && shown.cards !== 'none', 'verdict or cards hidden in print');
  await page.pdf({ path: join(artifacts, 'review.pdf') });
  await page.close();
});

test('a reader\'s diagnostics appear beside the box they came from', async () => {
  const page = await openPage();
  await page.fill('section.box[data-file="kubectl-version.txt"] textarea', 'hello world\nthis is not kubectl\n');
  await settle(page);
  const notes = await page.evaluate(() =>
    [...document.querySelectorAll('section.box .diagnostics li')].map((li) => [li.closest('section.box').dataset.file, li.textContent]));
  assert(notes.length > 0, 'no diagnostic shown for an unreadable kubectl version paste');
  for (const [file, text] of notes) {
    assertEqual(file, 'kubectl-version.txt', `box of the diagnostic "${text}"`);
  }
  assert(notes.some(([, text]) => text.includes('line 1')), `no diagnostic names its line: ${JSON.stringify(notes)}`);
  await page.close();
});

test('acknowledgements turn INCOMPLETE into GO', async () => {
  assert(goExample, 'no GO example');
  const page = await openPage();
  await fillBoxes(page, goExample);
  const before = await result(page);
  assertEqual(verdictWord(before.verdict), 'INCOMPLETE', 'verdict without acknowledgements');
  await setAcks(page, goExample);
  const after = await result(page);
  assertEqual(verdictWord(after.verdict), 'GO', 'verdict with acknowledgements');
  await page.screenshot({ path: join(artifacts, 'go.png'), fullPage: true });
  await page.close();
});

test('the backup acknowledgement says the upgrader dumps only the Houston database', async () => {
  assert(goExample, 'no GO example');
  const page = await openPage();
  const label = await page.locator('label:has(#ack-backup)').textContent();
  assert(label.includes('whole Postgres instance'), `backup label: ${label}`);
  const scope = await page.locator('#ack-backup-scope').textContent();
  assert(scope.includes('only the Houston database') && scope.includes("Airflow deployments' databases"), `backup hint: ${scope}`);
  await page.click(`button[data-example="${goExample.name}"]`);
  await settle(page);
  const message = await page.locator('article[data-check="database-backup"] p.message').textContent();
  assert(message.includes('dumps only') && message.includes('_houston') && message.includes('Airflow deployment'), `database-backup: ${message}`);
  await page.close();
});

test('NO-GO screenshot, narrow window without horizontal scrolling, dark mode', async () => {
  assert(noGoExample, 'no NO-GO example');
  const page = await openPage();
  await page.click(`button[data-example="${noGoExample.name}"]`);
  await settle(page);
  await page.screenshot({ path: join(artifacts, 'no-go.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(overflow <= 0, `page is ${overflow}px wider than a 390px window`);
  await page.screenshot({ path: join(artifacts, 'no-go-narrow.png') });
  await page.emulateMedia({ colorScheme: 'dark' });
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert(background !== 'rgb(255, 255, 255)', 'dark mode keeps a white background');
  await page.screenshot({ path: join(artifacts, 'no-go-dark.png') });
  await page.close();
});

test('a password in the connection string is masked in the page and absent from the exports', async () => {
  const page = await openPage();
  const password = 'Sup3rS3cretPw';
  await page.fill('section.box[data-file="connection.txt"] textarea',
    `postgresql://postgres:${password}@astro-db.internal:5432/astronomer\n`);
  await settle(page);
  const shown = await page.evaluate(() => document.body.innerText);
  assert(!shown.includes('Sup3rS3cretPw'), 'the password is shown in the page text');
  const link = page.locator('[data-check="database-connection"] .evidence-link').first();
  if ((await link.count()) === 1) {
    await link.click();
    const mark = await page.locator('[data-check="database-connection"] mark').textContent();
    assert(mark.includes('****') && !mark.includes(password), `excerpt not masked: ${mark}`);
  }
  const json = await download(page, '#export-json');
  const markdown = await download(page, '#export-markdown');
  assert(!json.includes(password) && !markdown.includes(password), 'the password reached an export');
  await page.close();
});

test('nothing is remembered unless asked; remembered boxes come back without secrets', async () => {
  const page = await openPage();
  await page.fill('section.box[data-file="connection.txt"] textarea', 'postgres://u:Pw0rd123@db:5432/x\n');
  await settle(page);
  assertEqual(await page.evaluate(() => localStorage.length), 0, 'items stored without consent');
  await page.check('#remember');
  await settle(page);
  const stored = await page.evaluate(() => JSON.stringify(localStorage));
  assert(stored.includes('db:5432') && !stored.includes('Pw0rd123'), `stored state wrong: ${stored}`);
  await page.reload();
  await page.waitForSelector('#verdict');
  const restored = await page.inputValue('section.box[data-file="connection.txt"] textarea');
  assertEqual(restored, 'postgres://u:****@db:5432/x\n', 'restored connection box');
  await page.uncheck('#remember');
  await settle(page);
  assertEqual(await page.evaluate(() => localStorage.length), 0, 'items left after turning remember off');
  await page.close();
});

test('dropped files land in their boxes; a collect bundle is recognised', async () => {
  const page = await openPage();
  await page.evaluate(() => {
    const data = new DataTransfer();
    data.items.add(new File(['NAME            PROVISIONER\nstandard (default)   kubernetes.io/gce-pd\n'], 'storageclass.txt'));
    data.items.add(new File(['{"astro_upgrade_bundle": 1, "sources": []}'], 'cluster-bundle.json'));
    document.querySelector('.page').dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  });
  await page.waitForSelector('section.bundle[data-file="cluster-bundle.json"]');
  const storage = await page.inputValue('section.box[data-file="storageclass.txt"] textarea');
  assert(storage.includes('standard (default)'), 'storageclass.txt did not land in its box');
  await page.close();
});

// ---------- the fleet: several collect bundles at once ----------

/** Runs the CLI; `check` exits 3 or 4 for NO-GO and INCOMPLETE and still prints its report. */
function cli(args) {
  const bin = process.env.ASTRO_UPGRADE_BIN;
  assert(bin, 'ASTRO_UPGRADE_BIN is not set');
  try {
    return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    if (typeof error.stdout !== 'string' || error.stdout === '') throw error;
    return error.stdout;
  }
}

/**
 * A `collect` bundle of an example, as `astro-upgrade collect` writes one: the facts the readers
 * found in the example's files (`astro-upgrade inspect`), under the bundle's header and context.
 */
function bundleOf(example, context, dir) {
  const facts = JSON.parse(cli(['inspect', ...example.files.map((file) => join(example.dir, file.name))]));
  const text = JSON.stringify({ astro_upgrade_bundle: 1, collected_at: '2026-12-01T00:00:00Z', context, facts }, null, 1) + '\n';
  const name = `${context}.bundle.json`;
  const path = join(dir, name);
  writeFileSync(path, text);
  return { example, context, name, path, text };
}

/** What `astro-upgrade check --bundle FILE` says of one bundle alone, with the example's acknowledgements. */
function cliCheckBundle(bundle, acks) {
  const report = JSON.parse(cli(['check', '--bundle', bundle.path, '--output', 'json', ...acks.flatMap((ack) => ['--ack', ack])]));
  const ids = (status) => report.findings.filter((f) => f.status === status).map((f) => f.check);
  return {
    verdict: report.verdict,
    failing: ids('fail'),
    unknown: ids('unknown'),
    findings: report.findings.map((f) => [f.check, f.status]).sort(),
  };
}

async function dropFiles(page, files) {
  await page.evaluate((files) => {
    const data = new DataTransfer();
    for (const { name, text } of files) data.items.add(new File([text], name));
    document.querySelector('.page').dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  }, files.map(({ name, text }) => ({ name, text })));
}

async function fleetRows(page) {
  await settle(page);
  return page.evaluate(() =>
    [...document.querySelectorAll('#fleet-matrix tr.cluster-row')].map((row) => ({
      context: row.dataset.context,
      verdict: row.dataset.verdict,
      shownContext: row.querySelector('.context').textContent,
      server: row.querySelector('.server').textContent,
      platform: row.querySelector('.platform').textContent,
      failing: [...row.querySelectorAll('.failing code')].map((code) => code.textContent),
      unknown: [...row.querySelectorAll('.unknown code')].map((code) => code.textContent),
      expanded: row.querySelector('button.cluster-toggle').getAttribute('aria-expanded'),
    })));
}

const fleetPicks = [
  ['healthy-0.16', 'prod-eu'],
  ['crashing-pods', 'prod-us'],
  ['connection-refused', 'staging-ap'],
];

test('fleet: three collect bundles dropped at once give one row each, the verdict astro-upgrade check gives each alone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'astro-upgrade-fleet-'));
  try {
    const bundles = fleetPicks.map(([name, context]) => {
      const example = examples.find((e) => e.name === name);
      assert(example, `no ${name} example`);
      return bundleOf(example, context, dir);
    });
    const acks = bundles[0].example.expected.acks;
    for (const bundle of bundles) assertEqual(bundle.example.expected.acks, acks, `${bundle.example.name}: the fleet's acknowledgements`);
    const alone = bundles.map((bundle) => cliCheckBundle(bundle, acks));
    // The three are one of each verdict, as the examples say: the test is not vacuous.
    assertEqual(alone.map((a) => a.verdict), bundles.map((b) => b.example.expected.verdict), 'astro-upgrade check on each bundle');
    assertEqual(alone.map((a) => a.verdict), ['GO', 'NO-GO', 'INCOMPLETE'], 'one verdict of each kind');

    const page = await openPage();
    await setAcks(page, bundles[0].example);
    await dropFiles(page, bundles);
    await page.waitForSelector('#fleet-matrix');
    const rows = await fleetRows(page);
    assertEqual(rows.map((r) => r.context), bundles.map((b) => b.context), 'one row per bundle, in the order dropped');
    for (const [index, bundle] of bundles.entries()) {
      const row = rows[index];
      const expected = alone[index];
      assertEqual(row.verdict, expected.verdict, `${bundle.context}: verdict, page vs astro-upgrade check --bundle`);
      assertEqual(row.shownContext, bundle.context, `${bundle.context}: context shown`);
      assertEqual(row.failing, expected.failing, `${bundle.context}: failing checks`);
      assertEqual(row.unknown, expected.unknown, `${bundle.context}: unknown checks`);
      assertEqual(row.failing, bundle.example.expected.failing_checks, `${bundle.context}: the example's failing checks`);
      const facts = JSON.parse(bundle.text).facts;
      assertEqual(row.server, facts.kubernetes.server_version ?? '–', `${bundle.context}: server version`);
      assertEqual(row.expanded, 'false', `${bundle.context}: closed at first`);
    }
    assertEqual(rows[1].failing, ['pod-health'], 'the NO-GO cluster fails pod-health');
    assert(rows[2].unknown.includes('kubernetes-version'), 'the INCOMPLETE cluster does not know its Kubernetes version');
    assert(/^0\.16\.\d+$/.test(rows[0].platform), `platform of the healthy cluster: ${rows[0].platform}`);
    const banner = (await page.textContent('#verdict')).trim();
    assertEqual(verdictWord(banner), 'NO-GO', 'the fleet verdict is the worst');
    assert(banner.includes('3 clusters: 1 GO, 1 NO-GO, 1 INCOMPLETE'), `fleet summary: ${banner}`);
    assertEqual(await page.locator('#export-json').count(), 0, 'no single-cluster plan export for a fleet');
    assertEqual(await page.locator('.cluster-findings [data-check]').count(), 0, 'no findings shown before a row is opened');

    // A row opens into that cluster's findings, the checks astro-upgrade check reports for it alone.
    for (const index of [1, 0]) {
      await page.click(`#fleet-matrix tr.cluster-row[data-context="${bundles[index].context}"] button.cluster-toggle`);
      await settle(page);
      const toggle = page.locator(`#fleet-matrix tr.cluster-row[data-context="${bundles[index].context}"] button.cluster-toggle`);
      assertEqual(await toggle.getAttribute('aria-expanded'), 'true', `${bundles[index].context}: opened`);
      const findingsId = await toggle.getAttribute('aria-controls');
      const cards = await page.evaluate((id) =>
        [...document.getElementById(id).querySelectorAll('[data-check]')].map((card) => [card.dataset.check, card.dataset.status]).sort(), findingsId);
      assertEqual(cards, alone[index].findings, `${bundles[index].context}: findings shown vs astro-upgrade check --bundle`);
    }
    const crashing = await page.locator('#cluster-1-findings [data-check="pod-health"] .item[data-status="fail"] .subject').allTextContents();
    assert(crashing.some((pod) => pod.includes('kibana')), `the crashing pods listed: ${crashing}`);
    const ids = await page.evaluate(() => [...document.querySelectorAll('[id]')].map((el) => el.id));
    assertEqual(ids.filter((id, i) => ids.indexOf(id) !== i), [], 'duplicate element ids with two rows open');
    await page.click(`#fleet-matrix tr.cluster-row[data-context="${bundles[1].context}"] button.cluster-toggle`);
    await settle(page);
    assertEqual(await page.locator('#cluster-1-findings').count(), 0, 'a row closes again');

    const markdown = await download(page, '#export-fleet-markdown');
    assert(markdown.startsWith('# Astronomer Enterprise 0.16 → 0.23 fleet readiness: NO-GO'), `fleet Markdown heading: ${markdown.slice(0, 120)}`);
    for (const [index, bundle] of bundles.entries()) {
      const line = markdown.split('\n').find((l) => l.startsWith(`| \`${bundle.context}\` |`));
      assert(line && line.includes(`**${alone[index].verdict}**`), `fleet Markdown row of ${bundle.context}: ${line}`);
      assert(markdown.includes(`## \`${bundle.context}\`: ${alone[index].verdict}`), `fleet Markdown section of ${bundle.context}`);
    }
    await page.screenshot({ path: join(artifacts, 'fleet.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 800 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, `the fleet page is ${overflow}px wider than a 390px window`);
    await page.setViewportSize({ width: 1280, height: 900 });

    // The same bundles opened with the file picker give the same rows.
    const picked = await openPage();
    await setAcks(picked, bundles[0].example);
    await picked.setInputFiles('#file-input', bundles.map((b) => b.path));
    await picked.waitForSelector('#fleet-matrix');
    assertEqual(await fleetRows(picked), rows.map((row) => ({ ...row, expanded: 'false' })), 'rows from the file picker');
    await picked.close();

    // One bundle alone keeps the single-cluster page: its checks and its plan.
    await dropFiles(page, [bundles[1]]);
    await page.waitForSelector('#fleet-matrix', { state: 'detached' });
    const single = await result(page);
    assertEqual(verdictWord(single.verdict), alone[1].verdict, 'one bundle: the single-cluster verdict');
    assertEqual(single.cards.map(([check, status]) => [check, status]).sort(), alone[1].findings, 'one bundle: its findings');
    assertEqual(await page.locator('#export-json').count(), 1, 'one bundle: the plan export is back');
    await page.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// A guard against an accidental jump (a dependency's default features, a second copy of a
// serializer), not a goal: about a tenth over the measured 407 KB (README, "Performance").
const PAGE_TRANSFER_GUARD = 450_000;

test('size: the page transfer (index.html, style.css, web.js, boot.js; gzip -9) stays within its guard', async () => {
  const sizes = Object.fromEntries(['index.html', 'style.css', 'web.js', 'boot.js']
    .map((name) => [name, gzipSync(readFileSync(join(dist, name)), { level: 9 }).length]));
  const total = Object.values(sizes).reduce((sum, size) => sum + size, 0);
  measurements.pageTransferGzipBytes = total;
  assert(total <= PAGE_TRANSFER_GUARD, `page transfer ${total} B gzip -9 is over the ${PAGE_TRANSFER_GUARD} B guard: ${JSON.stringify(sizes)}`);
});

test('measure: first render after navigation (median of 11)', async () => {
  const times = [];
  const phases = [];
  const page = await openPage();
  const session = await context.newCDPSession(page);
  await session.send('Network.setCacheDisabled', { cacheDisabled: true });
  for (let i = 0; i < 11; i++) {
    await page.reload();
    await page.waitForSelector('#verdict');
    const [scripts, inflated, rendered] = await page.evaluate(() => [
      performance.getEntriesByType('resource').reduce((last, entry) => Math.max(last, entry.responseEnd), 0),
      performance.getEntriesByName('wasm-inflated')[0].startTime,
      performance.getEntriesByName('first-render')[0].startTime,
    ]);
    times.push(rendered);
    phases.push([scripts, inflated - scripts, rendered - inflated]);
  }
  measurements.firstRenderMs = {
    median: median(times),
    all: times.map((t) => Math.round(t)),
    // Median of each phase: files loaded; wasm decoded and inflated; wasm compiled, started, rendered.
    phases: [0, 1, 2].map((i) => Math.round(median(phases.map((p) => p[i])))),
  };
  await page.close();
});

test('measure: re-evaluation after an edit of a 1,000-pod paste (median of 9)', async () => {
  const page = await openPage();
  const pods = podsPaste(1000);
  const box = 'section.box[data-file="pods.txt"] textarea';
  await page.fill(box, pods);
  await settle(page);
  const times = [];
  for (let i = 0; i < 9; i++) {
    await page.fill(box, pods.replace('astronomer-worker-0000', `astronomer-worker-e${i}`));
    await settle(page);
    times.push(Number(await page.evaluate(() => document.body.dataset.evalMs)));
  }
  const unhealthy = await page.locator('input[data-pod]').count();
  assertEqual(unhealthy, 11, 'unhealthy pods offered for acknowledgement');
  measurements.reevaluationMs = { median: median(times), all: times };
  await page.close();
});

test('the single-file build works from file:// without any other request', async () => {
  const page = await openPage(singleFileUrl);
  const example = noGoExample ?? examples[0];
  await page.click(`button[data-example="${example.name}"]`);
  checkExpected(example, await result(page), 'single file');
  await page.close();
});

// ---------- run ----------
let passed = 0;
let failed = 0;
// TEST_FILTER=text runs only the tests whose name contains it (for working on one).
const filter = process.env.TEST_FILTER ?? '';
for (const { name, body } of tests.filter((t) => t.name.includes(filter))) {
  offences.length = 0;
  try {
    await body();
    assert(offences.length === 0, offences.join('; '));
    passed++;
    console.log(`ok    ${name}`);
  } catch (error) {
    failed++;
    console.log(`FAIL  ${name}\n      ${String(error.message ?? error).split('\n').join('\n      ')}`);
  }
}
await context.close();
server.close();
rmSync(userDataDir, { recursive: true, force: true });

if (measurements.firstRenderMs) {
  const { median: m, all, phases } = measurements.firstRenderMs;
  console.log(`first render after navigation: median ${m.toFixed(1)} ms (${all.join(', ')}); phases (median): files loaded ${phases[0]} ms, wasm inflated +${phases[1]} ms, compiled+started+rendered +${phases[2]} ms`);
}
if (measurements.pageTransferGzipBytes) console.log(`page transfer: ${measurements.pageTransferGzipBytes} B gzip -9 (guard ${PAGE_TRANSFER_GUARD} B)`);
if (measurements.reevaluationMs) console.log(`re-evaluation of a 1,000-pod paste: median ${measurements.reevaluationMs.median.toFixed(1)} ms (${measurements.reevaluationMs.all.join(', ')})`);
writeFileSync(join(artifacts, 'measurements.json'), JSON.stringify(measurements, null, 2) + '\n');
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
