// The wiring the refunds domain builds on: the stack's config (as main.ts fills it in sandbox mode)
// names the sandbox's /secapi/ listener, its CA and the merchant p12 it issued; a pay client made from
// that config alone refunds an order paid through the server.
import t from 'tap';
import { apiClient, eventually } from '../../helpers/api.js';
import { startStack } from '../../helpers/stack.js';
import { loadMerchantCert } from '../../../server/src/wechat/merchant-cert.js';
import { createV2PayClient } from '../../../server/src/plugins/wechat.js';

t.test('a client made from the stack config refunds an order paid through the server', async (t) => {
  const s = await startStack();
  t.teardown(() => s.close());
  t.match(s.secapiBase, /^https:\/\/127\.0\.0\.1:\d+$/);
  t.equal(s.config.pay.secapiBase, s.secapiBase);
  t.equal(s.config.pay.ca, s.certs.ca);
  t.same(s.config.pay.cert, { p12Path: s.certs.merchants[s.config.pay.mchId]!.p12Path, passphrase: s.config.pay.mchId });

  const { token } = await s.login();
  const api = apiClient(s.apiBase, token);
  const order = (await api.createOrder([{ sku: 'COFFEE-LATTE', quantity: 1 }])).body;
  const pay = await api.pay(order.id);
  t.same(await s.cashier(pay.body), { errMsg: 'requestPayment:ok' });
  await eventually(() => api.getOrder(order.id), (r) => r.body.status === 'PAID');

  const { config } = s;
  // v2 on purpose, even in the v3 run of the matrix: the refund over /secapi/ mutual TLS is what this checks.
  const pc = createV2PayClient(config, config.pay.cert ? loadMerchantCert(config.pay.cert) : undefined);
  t.teardown(() => pc.close());
  const r = await pc.refund({ out_trade_no: order.outTradeNo, out_refund_no: `${order.outTradeNo}R1`, total_fee: order.amount, refund_fee: order.amount });
  t.match(r, { out_trade_no: order.outTradeNo, refund_fee: order.amount });
  t.match(await pc.refundQuery({ out_trade_no: order.outTradeNo }), { refund_count: 1, refunds: [{ out_refund_no: `${order.outTradeNo}R1` }] });
  t.equal((await pc.orderQuery({ out_trade_no: order.outTradeNo })).trade_state, 'REFUND');
});
