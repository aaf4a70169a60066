// RECONCILE_AT: the Beijing time of day from which the previous day's bill is fetched.
import t from 'tap';
import { ConfigError, loadConfig } from '../../../server/src/config.js';

t.test('RECONCILE_AT defaults to 10:30 and takes HH:MM', async (t) => {
  t.equal(loadConfig({}).reconciliation.atMinute, 10 * 60 + 30);
  t.equal(loadConfig({ RECONCILE_AT: '11:05' }).reconciliation.atMinute, 11 * 60 + 5);
  t.equal(loadConfig({ RECONCILE_AT: '00:00' }).reconciliation.atMinute, 0);
  for (const bad of ['24:00', '9:30', '10:60', '10', 'noon']) {
    t.throws(() => loadConfig({ RECONCILE_AT: bad }), ConfigError, bad);
    try {
      loadConfig({ RECONCILE_AT: bad });
    } catch (err) {
      t.match((err as Error).message, /^RECONCILE_AT must be a Beijing time of day written HH:MM/);
    }
  }
});
