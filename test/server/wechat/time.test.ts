import t from 'tap';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { toBeijingTime, fromBeijingTime } from '../../../server/src/wechat/time.js';

const timeModule = fileURLToPath(new URL('../../../server/src/wechat/time.ts', import.meta.url));

t.test('fixed instants', async (t) => {
  t.equal(toBeijingTime(new Date('2024-01-01T00:00:00Z')), '20240101080000');
  t.equal(toBeijingTime(new Date('2023-12-31T16:00:00Z')), '20240101000000');
  t.equal(toBeijingTime(new Date('2024-02-28T16:30:05Z')), '20240229003005');
  t.equal(fromBeijingTime('20240101080000').toISOString(), '2024-01-01T00:00:00.000Z');
  t.equal(fromBeijingTime('20240101000000').toISOString(), '2023-12-31T16:00:00.000Z');
});

t.test('does not depend on the process TZ', async (t) => {
  for (const tz of ['America/Los_Angeles', 'Asia/Kolkata', 'Pacific/Chatham', 'UTC']) {
    const script =
      `import { toBeijingTime, fromBeijingTime } from ${JSON.stringify(timeModule)};` +
      `console.log(JSON.stringify([new Date().getTimezoneOffset(), toBeijingTime(new Date('2024-03-10T10:30:00Z')), fromBeijingTime('20240310183000').toISOString()]))`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, TZ: tz },
      encoding: 'utf8',
    });
    const [offset, bj, iso] = JSON.parse(out) as [number, string, string];
    if (tz === 'America/Los_Angeles') t.not(offset, 0, 'child really runs in another zone');
    t.equal(bj, '20240310183000', tz);
    t.equal(iso, '2024-03-10T10:30:00.000Z', tz);
  }
});

t.test('round trip at whole seconds', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(9999, 11, 31, 15) }), (ms) => {
      const d = new Date(Math.floor(ms / 1000) * 1000);
      return fromBeijingTime(toBeijingTime(d)).getTime() === d.getTime();
    }),
  );
  t.pass();
});

t.test('malformed or impossible times are refused', async (t) => {
  for (const bad of ['', '2024010108000', '202401010800000', '2024-01-01 08:00', '20241301000000', '20240230000000', '20230229000000', '20240101240000', '20240101006000', '20240101000060', '20240100000000', 'abcdefghijklmn']) {
    t.throws(() => fromBeijingTime(bad), RangeError, bad);
  }
  t.throws(() => toBeijingTime(new Date('nope')), RangeError);
});
