// The running version picks the config; a trial or release build can neither use the sandbox nor
// talk plain http, whatever the develop settings say.
import t from 'tap';
import { configFor, develop, live, liveConfig, sandboxOf, type HttpsUrl, type LiveSettings } from '../../miniprogram/config.js';

t.test('develop: the local server and the sandbox (the settings a developer edits)', async (t) => {
  const c = configFor('develop');
  t.equal(c, develop, 'the develop object itself');
  t.equal(c.env, 'develop');
  t.match(c.apiBase, /^http:\/\/127\.0\.0\.1:/);
  t.match(sandboxOf(c), { enabled: true, base: /^http:\/\/127\.0\.0\.1:/ });
  t.not(c.subscribe.paidTemplateId, '', 'the sandbox demo template is asked for');
});

t.test('trial and release: the https API, no sandbox, even when develop points elsewhere', async (t) => {
  const saved = structuredClone(develop);
  t.teardown(() => Object.assign(develop, saved));
  // a developer's local edits
  develop.apiBase = 'http://192.168.1.20:3000';
  develop.sandbox.enabled = true;
  for (const env of ['trial', 'release'] as const) {
    const c = configFor(env);
    t.equal(c.env, env);
    t.equal(c.apiBase, live.apiBase);
    t.match(c.apiBase, /^https:\/\//, `${env}: https`);
    t.equal(c.sandbox, null, `${env}: no sandbox settings at all`);
    t.equal(sandboxOf(c), null);
    t.ok(Object.isFrozen(c), `${env}: frozen, nothing can switch it later`);
  }
});

t.test('an unknown or missing envVersion is a release', async (t) => {
  for (const v of [undefined, null, '', 'preview', 'DEVELOP', 1]) {
    const c = configFor(v);
    t.equal(c.env, 'release', String(v));
    t.equal(sandboxOf(c), null);
  }
});

t.test('a live build with an http (or otherwise not https) base is refused at run time', async (t) => {
  for (const apiBase of ['http://api.example.com', 'HTTP://x', 'ftp://x', 'https://', 'https:// x', '//api.example.com', '']) {
    t.throws(() => liveConfig('release', { apiBase: apiBase as HttpsUrl, paidTemplateId: '' }), /https apiBase/, apiBase);
    t.throws(() => configFor('trial', { develop, live: { apiBase: apiBase as HttpsUrl, paidTemplateId: '' } }), /https apiBase/);
  }
  t.equal(liveConfig('release', { apiBase: 'https://api.example.com/', paidTemplateId: 'T' }).apiBase, 'https://api.example.com', 'no trailing slash');
});

t.test('and refused at compile time: the live settings type takes https only, and has no sandbox', async (t) => {
  // These lines are type-checked by `npm run typecheck`; each @ts-expect-error fails it if the error disappears.
  // @ts-expect-error an http base is not an HttpsUrl
  const http: LiveSettings = { apiBase: 'http://api.example.com', paidTemplateId: '' };
  // @ts-expect-error a live config has no sandbox settings to turn on
  const withSandbox: LiveSettings = { apiBase: 'https://api.example.com', paidTemplateId: '', sandbox: { enabled: true } };
  t.ok(http && withSandbox);
  const c = configFor('release');
  if (c.env !== 'develop') {
    // @ts-expect-error a live config's sandbox is null, not settings
    c.sandbox?.enabled;
  }
});
