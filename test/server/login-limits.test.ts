import t from 'tap';
import { clientKey } from '../../server/src/login-limits.js';

t.test('failed logins are counted per IPv4 address and per IPv6 /64', async (t) => {
  t.equal(clientKey('203.0.113.7'), '203.0.113.7');
  t.equal(clientKey('::ffff:203.0.113.7'), '203.0.113.7', 'an IPv4-mapped address is its IPv4 address');
  const one = clientKey('2001:db8:1:2:3:4:5:6');
  t.equal(one, '2001:db8:1:2::/64');
  for (const sibling of ['2001:db8:1:2::9', '2001:DB8:0001:0002:ffff::1', '2001:db8:1:2:ffff:ffff:ffff:ffff']) {
    t.equal(clientKey(sibling), one, `${sibling} is the same client`);
  }
  t.not(clientKey('2001:db8:1:3::1'), one, 'the next /64 is another client');
  t.equal(clientKey('2001:db8::'), '2001:db8:0:0::/64');
  t.equal(clientKey('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64');
});
